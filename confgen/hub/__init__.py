"""On the JupyterHub host: the notebook options of the pool, checked; the submit description; the
condor_ssh_to_job tunnel; and SiteCondorSpawner, which puts them together (needs the `hub` extra).

This is the one part of confgen that runs beside the pool rather than before it: it reads only
output/jupyterhub/spawner-options.json, never site.yaml, and needs no HTCondor bindings.
"""
