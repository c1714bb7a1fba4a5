"""`confgen explain`: what the pool would do with one job, decided offline by HTCondor's own parser
(the rendered roles, loaded as in `confgen check`) and evaluator (classad2), not by confgen's model:
accepted or refused at submit with the schedd's reason; for each class, START and the clause that
decides; the image, the binds and the thread variables the starter would use."""

from confgen.explain.decide import ClassDecision, Explanation, explain_job

__all__ = ["ClassDecision", "Explanation", "explain_job"]
