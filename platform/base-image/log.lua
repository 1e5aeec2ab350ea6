-- One request served: count it by status code and add its duration to the histogram.
-- The metrics server itself (:9113) is not counted: scrapes are not traffic.
if ngx.var.server_port == "9113" then return end
local dict = ngx.shared.sts_metrics
local seconds = tonumber(ngx.var.request_time) or 0
dict:incr("code:" .. ngx.status, 1, 0)
dict:incr("count", 1, 0)
dict:incr("sum", seconds, 0)
-- Prometheus' default buckets; a request counts in every bucket whose bound it is below.
for _, le in ipairs({ 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }) do
    if seconds <= le then dict:incr("le:" .. le, 1, 0) end
end
