"""Real documents the trust tests use, relative to ../shared/testdocs (see MANIFEST.md there):
a novel (paragraph anchors), a screenplay (scene anchors) and a flight transcript (timecodes)."""
SHERLOCK = "prose/jsvine__markovify/sherlock.txt"
CYBER_BOB = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
MERCURY = "transcripts/Spacelog__Spacelog/mr3/ATG"
