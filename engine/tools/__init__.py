"""Tool calling for local models: rendering, one parser per model family, constrained decoding.

    render.py     messages + tool definitions -> the dicts `apply_chat_template(tools=...)` takes;
                  a documented fallback for templates that know no tools
    formats.py    which family's format a chat template speaks (the one dispatch point)
    hermes.py     `<tool_call>{json}</tool_call>` (Hermes, Qwen2.5/3, SmolLM2, the fallback)
    llama3.py     Llama 3.1+ JSON calls (`{"name": ..., "parameters": ...}`, `<|python_tag|>`)
    extract.py    turns a backend's text stream into ToolCallDelta events
    constrain.py  grammar masks (llguidance) for forced calls and structured output

Does not know: HTTP protocols (workbench/api translates them) or how a model is run.
"""
