"""`python -m engine.tiny OUT_DIR`: the entry point of engine/deepseek_v4/tiny.py (small V4
checkpoints in the official layout), kept at its old name for scripts and docs."""
from engine.deepseek_v4.tiny import main

if __name__ == "__main__":
    raise SystemExit(main())
