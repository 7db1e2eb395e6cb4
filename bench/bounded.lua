-- wrk script for bench/load.py: a bounded run of a fixed number of responses rather than a timed
-- one, with the results printed as one line of JSON on stdout.
--   wrk -t1 -c4 -d120s --timeout 30s -s bench/bounded.lua URL -- <responses per thread>
-- wrk has no request limit of its own: stopping a thread's loop leaves the main thread asleep for
-- the whole --duration (and the connections open). So on reaching the limit the thread stops and
-- prints "limit reached"; bench/load.py then sends wrk SIGINT, which ends the run at once with the
-- right duration. The -d value is only the upper bound.
-- Any status other than 200 is counted, so a login redirect or an error page cannot pass for speed.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  limit = tonumber(args[1]) or 1000
  responses = 0
  unexpected = 0
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    unexpected = unexpected + 1
  end
  if responses == limit then
    wrk.thread:stop()
    io.write("limit reached\n")
    io.flush()
  end
end

function done(summary, latency, requests)
  local unexpected_total = 0
  for _, thread in ipairs(threads) do
    unexpected_total = unexpected_total + thread:get("unexpected")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "non_200": %d, "socket_errors": %d, "timeouts": %d, '
      .. '"p50_us": %.0f, "p95_us": %.0f, "p99_us": %.0f, "max_us": %.0f, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, unexpected_total,
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean
  ))
end
