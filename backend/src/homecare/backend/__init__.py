"""The homecare backend: storage, API, detection, incidents and the processes that run them."""
