"""assistant: an offline, private chat assistant for the terminal.

Requests are routed by an embedding router to skills, each running on its own small
quantized model through llama.cpp. Nothing leaves the machine.
"""

__version__ = "0.1.0"
