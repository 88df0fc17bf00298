"""The wire contract between devices and the platform: messages, topics, codec, generated schemas."""
