-- The counters in Prometheus' text format (version 0.0.4).
local dict = ngx.shared.sts_metrics
local out = {
    "# HELP http_requests_total Requests served, by HTTP status code.",
    "# TYPE http_requests_total counter",
}
for _, key in ipairs(dict:get_keys(0)) do
    local code = key:match("^code:(%d+)$")
    if code then out[#out + 1] = string.format('http_requests_total{code="%s"} %d', code, dict:get(key)) end
end
out[#out + 1] = "# HELP http_request_duration_seconds Time from the first byte read to the last byte sent (nginx $request_time)."
out[#out + 1] = "# TYPE http_request_duration_seconds histogram"
for _, le in ipairs({ 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }) do
    out[#out + 1] = string.format('http_request_duration_seconds_bucket{le="%s"} %d', le, dict:get("le:" .. le) or 0)
end
local count = dict:get("count") or 0
out[#out + 1] = string.format('http_request_duration_seconds_bucket{le="+Inf"} %d', count)
out[#out + 1] = string.format("http_request_duration_seconds_sum %.6f", dict:get("sum") or 0)
out[#out + 1] = string.format("http_request_duration_seconds_count %d", count)
ngx.header.content_type = "text/plain; version=0.0.4"
ngx.say(table.concat(out, "\n"))
