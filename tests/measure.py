"""Peak memory of a measured confgen process, for the tests that bound time and memory."""

#: Python source defining peak_mb() for the measured process: its own VmHWM, and the largest child it
#: waited for (HTCondor's parser). Not RUSAGE_SELF's ru_maxrss: Linux carries that over from the process
#: that forked it, so in a full test run it reported pytest's own 443 MB for a 60 MB check.
PEAK_MB = '''
import resource
def peak_mb():
    own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) // 1024
'''
