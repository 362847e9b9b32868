"""`callassist review OUT_DIR`: a loopback-only web page over a batch's reports where a QA lead
listens to each call, jumps to its events and transcript lines, and marks each event confirmed
or a false alarm; the verdicts are saved beside the report as the call's labels file, which
`callassist eval` reads."""
