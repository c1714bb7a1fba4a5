# Ship one confgen role directory (output/<role>/) as HTCondor's config.d, and reconfigure HTCondor
# when a file changed.
#
#   class { 'confgen_htcondor':
#     role   => 'execute-batch',                                    # a directory under output/
#     source => 'puppet:///modules/site_htcondor/confgen/execute-batch',
#   }
#
# confgen owns config_dir: recurse + purge make it hold exactly the role's files, so a file that
# confgen no longer renders disappears, and so does any other file there, a package's own defaults
# (Debian's and the RPMs' config.d/00-*) included: confgen's files say everything the role needs,
# and knobs confgen does not model go in site.yaml's extra_config. The root config
# (/etc/condor/condor_config) stays the package's.
#
# One `condor_reconfig` per Puppet run that changed anything (none while condor_master is not running); knobs that need a restart (DAEMON_LIST
# when daemons are removed, NETWORK_INTERFACE, SHARED_PORT_PORT, ...) are listed in confgen's README
# ("Deploy"): for those, restart HTCondor in a maintenance window instead.
class confgen_htcondor (
  String $role,
  String $source,
  Pattern[/\A\//] $config_dir = '/etc/condor/config.d',
  String $reconfig_command = '/usr/sbin/condor_reconfig',
  Array[String] $reconfig_environment = [],
) {
  file { $config_dir:
    ensure  => directory,
    source  => $source,
    recurse => true,
    purge   => true,
    force   => true,   # also removes directories confgen no longer renders
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    notify  => Exec['confgen_htcondor reconfig'],
  }

  # When HTCondor is not running (a first install), there is nothing to reconfigure: it reads the
  # files when it starts.
  exec { 'confgen_htcondor reconfig':
    command     => $reconfig_command,
    environment => $reconfig_environment,
    onlyif      => 'pgrep -x condor_master',
    refreshonly => true,
    path        => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
  }
}
