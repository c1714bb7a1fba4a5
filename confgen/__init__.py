"""confgen: one site.yaml in, proven HTCondor condor_config.d fragments out."""

__version__ = "0.1.0"
