"""The fault matrix (`govbus chaos`): faults driven against a running pipeline under load,
then reconciled. On the top floor, beside the benchmarks, so it may drive every wing."""
