-- wrk script for the token workloads of bench/run.sh (driven by bench/wrk-run.mjs).
--
--   WRK_MODE=refresh|code WRK_FILE=F WRK_THREADS=T WRK_CONNECTIONS=C WRK_CLIENT_ID=- WRK_OUT=O \
--     wrk -t T -c C -d D --timeout 10s -s token.lua URL
--
--   WRK_MODE         refresh: rotate refresh tokens; code: exchange pre-minted authorization codes
--   WRK_FILE         refresh: one refresh token per line; code: "CODE VERIFIER" per line. Thread k
--                    (1-based) of T takes lines k, k+T, k+2T, … as its own pool.
--   WRK_CONNECTIONS  the -c value (to undo wrk's latency correction, see done())
--   WRK_CLIENT_ID    "-" for none (provisiond), "bench" for oidc-provider (public client)
--   WRK_OUT          done() writes one JSON object there (see the end of this file)
-- (Settings come from the environment: done() runs in wrk's main Lua state, where init() did not.)
--
-- refresh: each thread keeps a pool (a stack) of refresh tokens. request() pops one and sends
-- POST URL-path grant_type=refresh_token; response() extracts the rotated refresh_token with
-- string.match and pushes it back. A connection has at most one request in flight, so a pool of
-- at least connections-per-thread + 1 tokens never runs dry while answers are good (wrk also calls
-- request() once, unsent, to validate the script: that token is simply not used this run).
-- code: each request takes the thread's next unused code; codes are never reused.
-- An answer other than 200 with access_token and refresh_token is an error, and its token (refresh)
-- is dropped. If a pool is empty, the thread stops itself (wrk.thread:stop()) rather than send a
-- request it knows is invalid, and the run is flagged: its rate is then an undercount.

local MODE = os.getenv("WRK_MODE")
local FILE = os.getenv("WRK_FILE")
local NTHREADS = tonumber(os.getenv("WRK_THREADS") or "1")
local CLIENT_ID = os.getenv("WRK_CLIENT_ID") or "-"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

pool = {}      -- refresh: stack of tokens; code: array of {code, verifier}
next_code = 1  -- code: index of the next unused entry
ok = 0         -- answers that were 200 with both tokens
bad_status = 0 -- answers that were not 200
bad_body = 0   -- 200 without the tokens
starved = 0    -- request() found the pool empty (thread stopped)
loaded = 0
statuses = {}  -- status → count, for non-200
sample = ""    -- the first bad answer's body (truncated)

local suffix = ""
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["api-version"] = "0.1d",
}

function init(args)
  if CLIENT_ID ~= "-" then suffix = "&client_id=" .. CLIENT_ID end
  local k, i = tid, 0
  for line in io.lines(FILE) do
    i = i + 1
    if (i - 1) % NTHREADS == k - 1 and #line > 0 then
      if MODE == "refresh" then
        pool[#pool + 1] = line
      else
        local c, v = line:match("^(%S+)%s+(%S+)")
        if c then pool[#pool + 1] = { c, v } end
      end
    end
  end
  loaded = #pool
end

local function starve()
  starved = starved + 1
  wrk.thread:stop()
  -- Never sent in practice (the thread's loop ends); a harmless request if it is.
  return wrk.format("GET", "/_ready")
end

function request()
  if MODE == "refresh" then
    local n = #pool
    if n == 0 then return starve() end
    local t = pool[n]
    pool[n] = nil
    return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. t .. suffix)
  end
  local e = pool[next_code]
  if not e then return starve() end
  next_code = next_code + 1
  return wrk.format("POST", nil, headers,
    "grant_type=authorization_code&code=" .. e[1] .. "&code_verifier=" .. e[2] .. suffix)
end

local function bad(status, body)
  if sample == "" then sample = string.sub(tostring(status) .. " " .. (body or ""), 1, 300) end
end

function response(status, hdrs, body)
  if status ~= 200 then
    bad_status = bad_status + 1
    statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
    bad(status, body)
    return
  end
  local rt = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  if not rt or not string.find(body, '"access_token"%s*:%s*"') then
    bad_body = bad_body + 1
    bad(status, body)
    return
  end
  ok = ok + 1
  if MODE == "refresh" then pool[#pool + 1] = rt end
end

-- JSON helpers (numbers and plain strings only)
local function jstr(s)
  s = tostring(s):gsub('[%c"\\]', function(ch)
    return string.format("\\u%04x", string.byte(ch))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local conns = 0
  local t = { ok = 0, bad_status = 0, bad_body = 0, starved = 0, loaded = 0, left = 0 }
  local st, samp = {}, ""
  for _, th in ipairs(threads) do
    t.ok = t.ok + th:get("ok")
    t.bad_status = t.bad_status + th:get("bad_status")
    t.bad_body = t.bad_body + th:get("bad_body")
    t.starved = t.starved + th:get("starved")
    t.loaded = t.loaded + th:get("loaded")
    if MODE == "refresh" then
      t.left = t.left + #th:get("pool")
    else
      t.left = t.left + (th:get("loaded") - th:get("next_code") + 1)
    end
    for k, v in pairs(th:get("statuses")) do st[k] = (st[k] or 0) + v end
    if samp == "" then samp = th:get("sample") end
  end
  -- wrk adds synthetic samples to its latency histogram before done() (its coordinated-omission
  -- correction, stats_correct in wrk.c: every latency n ≥ 2e adds a sample at n-e, n-2e, … > e,
  -- where e = runtime_us / (requests / connections), integer arithmetic). Undo it exactly, from
  -- the top down, to get the latencies that were measured; keep wrk's corrected percentiles too.
  local vals, counts = {}, {}
  for i = 1, #latency do
    local v, c = latency(i)
    vals[i] = v
    counts[v] = c
  end
  local connections = tonumber(os.getenv("WRK_CONNECTIONS") or "0")
  local raw_ok = false
  if connections > 0 and summary.requests >= connections then
    local per_conn = math.floor(summary.requests / connections)
    local e = math.floor(summary.duration / per_conn)
    local raw = {}
    for v, c in pairs(counts) do raw[v] = c end
    for i = #vals, 1, -1 do
      local n = vals[i]
      local c = raw[n]
      if n >= 2 * e and c and c > 0 then
        local m = n - e
        while m > e do
          if raw[m] then raw[m] = raw[m] - c end
          m = m - e
        end
      end
    end
    local sum, negative = 0, false
    for _, c in pairs(raw) do
      sum = sum + c
      if c < 0 then negative = true end
    end
    -- latencies past --timeout are not recorded (they count as timeouts)
    if not negative and (sum == summary.requests or sum == summary.requests - summary.errors.timeout) then
      raw_ok = true
      counts = raw
    end
  end
  local parts = {}
  for _, v in ipairs(vals) do
    local c = counts[v]
    if c and c > 0 then parts[#parts + 1] = "[" .. v .. "," .. c .. "]" end
  end
  local statusParts = {}
  for k, v in pairs(st) do statusParts[#statusParts + 1] = jstr(k) .. ":" .. v end
  local out = io.open(os.getenv("WRK_OUT"), "w")
  out:write("{",
    '"mode":', jstr(MODE), ",",
    '"duration_us":', summary.duration, ",",
    '"requests":', summary.requests, ",",
    '"bytes":', summary.bytes, ",",
    '"wrk_errors":{"connect":', summary.errors.connect, ',"read":', summary.errors.read,
    ',"write":', summary.errors.write, ',"status":', summary.errors.status,
    ',"timeout":', summary.errors.timeout, "},",
    '"ok":', t.ok, ",", '"bad_status":', t.bad_status, ",", '"bad_body":', t.bad_body, ",",
    '"starved":', t.starved, ",", '"pool_loaded":', t.loaded, ",", '"pool_left":', t.left, ",",
    '"statuses":{', table.concat(statusParts, ","), "},",
    '"sample":', jstr(samp), ",",
    '"corrected_us":{"p50":', latency:percentile(50), ',"p90":', latency:percentile(90),
    ',"p99":', latency:percentile(99), ',"max":', latency.max, "},",
    '"histogram_is_raw":', tostring(raw_ok), ",",
    '"histogram_us":[', table.concat(parts, ","), "]",
    "}\n")
  out:close()
end
