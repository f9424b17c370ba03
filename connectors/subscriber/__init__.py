"""The faust subscriber kit: what a consuming department runs on the topics it was granted."""
