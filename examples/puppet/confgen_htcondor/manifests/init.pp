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
# Images resolved on the node (site.yaml containers.images.<OS>: {path, newest}): the role directory
# holds scripts/newest-image.sh, shipped with the fragments and run by HTCondor with /bin/sh (no execute
# bit needed). HTCondor keeps each answer in <local_dir>/confgen-newest-image.<MACRO> until that file is
# removed; with refresh_newest_images, each Puppet run removes the answers older than a day and
# reconfigures HTCondor, so the node moves to the newest build daily (the script keeps the last good
# answer in <file>.last for days on which no build is present).
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
  Boolean $refresh_newest_images = false,
  Pattern[/\A\/[A-Za-z0-9._\/-]*\z/] $local_dir = '/var/lib/condor',
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

  if $refresh_newest_images {
    $stale = "find ${local_dir} -maxdepth 1 -name 'confgen-newest-image.*_IMAGE' -type f -mmin +1440"
    exec { 'confgen_htcondor refresh newest images':
      command     => "${stale} -delete && { ! pgrep -x condor_master >/dev/null || ${reconfig_command}; }",
      onlyif      => "${stale} | grep -q .",
      environment => $reconfig_environment,
      provider    => shell,
      path        => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
    }
  }
}
