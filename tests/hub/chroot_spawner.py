"""TEST-ONLY subclass of the real SiteCondorSpawner (named as such): the users live in the HTCondor
chroot, not on the test host, so their uid and gid come from the chroot's /etc/passwd. Nothing else
is changed."""

from __future__ import annotations

import os

from confgen.hub.spawner import SiteCondorSpawner


class ChrootSiteCondorSpawner(SiteCondorSpawner):  # type: ignore[misc]
    def user_ids(self) -> tuple[int, int] | None:
        with open(os.path.join(os.environ["CONFGEN_CHROOT"], "etc/passwd")) as passwd:
            for line in passwd:
                fields = line.split(":")
                if fields[0] == self.user.name:
                    return int(fields[2]), int(fields[3])
        return None
