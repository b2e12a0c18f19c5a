"""The two Portkey example configs of shared/reference/portkey.md §2, verbatim, used by unit and e2e tests."""

PORTKEY_EXAMPLE_A = r"""{
  "retry": {"attempts": 3, "on_status_codes": [429, 500, 502, 503, 504], "use_retry_after_header": true},
  "request_timeout": 30000,
  "cache": {"mode": "simple", "max_age": 600000},
  "strategy": {"mode": "fallback", "on_status_codes": [408, 429, 446, 500, 502, 503, 504]},
  "targets": [
    {"strategy": {"mode": "loadbalance"}, "targets": [
      {"provider": "openai", "api_key": "sk-…", "weight": 0.7, "override_params": {"model": "gpt-4o-mini"}},
      {"provider": "azure-openai", "api_key": "…", "resource_name": "res", "deployment_id": "gpt4o-mini",
       "api_version": "2024-06-01", "weight": 0.3}]},
    {"provider": "anthropic", "api_key": "sk-ant-…",
     "override_params": {"model": "claude-3-5-sonnet-latest", "max_tokens": 1024}}
  ],
  "input_guardrails": [{"default.regexMatch": {"rule": "\\b\\d{3}-\\d{2}-\\d{4}\\b", "not": true}, "deny": true}],
  "output_guardrails": [{"default.wordCount": {"minWords": 1, "maxWords": 400},
                          "default.validUrls": {"onlyDNS": true},
                          "deny": false, "on_fail": {"feedback": {"value": -5, "weight": 1}}}]
}"""

PORTKEY_EXAMPLE_B = r"""{
  "strategy": {"mode": "conditional", "default": "cheap", "conditions": [
    {"query": {"metadata.plan": {"$eq": "paid"}}, "then": "premium"},
    {"query": {"$and": [{"params.model": {"$regex": "^gpt-4"}}, {"metadata.env": {"$ne": "prod"}}]}, "then": "cheap"}]},
  "targets": [
    {"name": "premium", "provider": "openai", "api_key": "sk-…", "override_params": {"model": "gpt-4o"}},
    {"name": "cheap", "provider": "groq", "api_key": "gsk_…", "override_params": {"model": "llama-3.1-8b-instant"}}]
}"""
