"""The local Slack stand-in, the signed request factory and the demo: only the tests,
the benchmarks and `feedback-loop demo` use them."""
