--[[ Claim up to N live requests over a daemon's runtimes, for one consumer. Never blocks.
KEYS[1]  the first runtime's hash (routes the call to the workspace's slot)
ARGV[1]  P, the workspace prefix "courier:{ws:W}:"     ARGV[2]  consumer (daemon instance id)
ARGV[3]  at most this many requests in all            ARGV[4]  "1": heartbeat claim (the lease
         is the running deadline at once: old daemons never extend)
ARGV[5]  K, the number of kinds; ARGV[6 .. 5+2K] kind, per-kind cap — in the order to serve
ARGV[6+2K ..] runtime ids
Per runtime: marks it alive, applies its due deadlines, hands out redeliveries first (XCLAIM of
the entry sitting in another consumer's PEL), then new entries per kind (XREADGROUP >), acking
and deleting entries whose record ended or vanished, until the caps are reached or nothing is
left — stopping at a dead entry would starve the live work behind it.
This runs for every claim and every woken claim: it touches only what exists (a kind without a
stream costs one EXISTS) and refreshes liveness only when it runs low.
Returns: {"ok", ms to the runtimes' next deadline (-1: none),
          {id, runtime, kind, payload, attempt, lease deadline ms}...}
      or {"runtime_not_found", runtime id}
]]
local P, consumer, total, heartbeat = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local nkinds = tonumber(ARGV[5])
local kinds, caps, taken = {}, {}, {}
for i = 1, nkinds do
  kinds[i] = ARGV[4 + 2 * i]
  caps[kinds[i]] = tonumber(ARGV[5 + 2 * i])
  taken[kinds[i]] = 0
end
local rts = {}
for i = 6 + 2 * nkinds, #ARGV do rts[#rts + 1] = ARGV[i] end
local now = now_ms()

local ALIVE_MS = 90000
local ALIVE_REFRESH_BELOW_MS = 60000  -- last_seen_at is accurate to 30 s
-- A consumer that holds nothing and has not claimed for this long is removed from the group
-- (only here, where the script sees it holds nothing: DELCONSUMER drops pending entries).
local CONSUMER_IDLE_MS = 120000
local GC_EVERY_MS = 60000

for _, rt in ipairs(rts) do
  if redis.call('EXISTS', rt_key(P, rt)) == 0 then return {'runtime_not_found', rt} end
end

local claimed = {}
local function rtk_of(rt) return rt_key(P, rt) end

local function room(kind)
  return #claimed < total and caps[kind] ~= nil and taken[kind] < caps[kind]
end

local function claim_one(rt, id, kind, f)
  claimed[#claimed + 1] = claim_request(P, rt, id, kind, f, consumer, heartbeat, now)
  taken[kind] = taken[kind] + 1
end

local function forget_idle_consumers(sk)
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', sk, GROUP)) do
    local info = {}
    for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
    if info['name'] ~= consumer and tonumber(info['pending']) == 0 and
        tonumber(info['idle']) > CONSUMER_IDLE_MS then
      redis.call('XGROUP', 'DELCONSUMER', sk, GROUP, info['name'])
    end
  end
end

for _, rt in ipairs(rts) do
  local rtk = rt_key(P, rt)
  if redis.call('PTTL', rtk .. ':alive') < ALIVE_REFRESH_BELOW_MS then
    redis.call('SET', rtk .. ':alive', '1', 'PX', ALIVE_MS)
    redis.call('HSET', rtk, 'last_seen', now)
  end
  apply_due(P, rt, now)
end

for _, rt in ipairs(rts) do
  if #claimed >= total then break end
  local rtk = rt_key(P, rt)
  -- Redeliveries first: their entries are in a PEL already and '>' would never return them.
  local rdk = rtk .. ':redeliver'
  for _, id in ipairs(redis.call('ZRANGE', rdk, 0, -1)) do
    if #claimed >= total then break end
    local rk = req_key(P, id)
    local f = redis.call('HMGET', rk, 'status', 'entry', 'kind', 'version', 'attempt', 'r_ms',
                         'l_ms', 'payload')
    local kind = f[3]
    if f[1] ~= 'pending' then
      redis.call('ZREM', rdk, id)
    elseif room(kind) then
      redis.call('ZREM', rdk, id)
      local sk = stream_key(P, rt, kind)
      -- XCLAIM on a missing stream is an error that would abort the script: check first.
      local moved = {}
      if redis.call('EXISTS', sk) == 1 then
        moved = redis.call('XCLAIM', sk, GROUP, consumer, 0, f[2], 'JUSTID')
      end
      if #moved == 0 then
        -- The entry left the PEL (its stream expired): queue it afresh for '>' below.
        if redis.call('EXISTS', sk) == 0 then
          redis.call('XGROUP', 'CREATE', sk, GROUP, '0', 'MKSTREAM')
          redis.call('PEXPIRE', sk, redis.call('PTTL', rk))
        end
        redis.call('HSET', rk, 'entry', redis.call('XADD', sk, '*', 'id', id))
      else
        claim_one(rt, id, kind, {f[4], f[5], f[6], f[7], f[8]})
      end
    end
  end
  -- Then new entries, kind by kind in serving order, until the caps or the streams run dry.
  for k = 1, nkinds do
    local kind = kinds[k]
    local sk = stream_key(P, rt, kind)
    if room(kind) and redis.call('EXISTS', sk) == 1 then
      while room(kind) do
        local want = math.min(caps[kind] - taken[kind], total - #claimed)
        local got, read = claim_new(P, rt, kind, sk, consumer, want, heartbeat, now)
        for _, c in ipairs(got) do
          claimed[#claimed + 1] = c
          taken[kind] = taken[kind] + 1
        end
        if read < want then break end  -- fewer than asked: nothing more to read
      end
    end
  end
end

-- Now and then, when there was nothing to hand out, drop consumers that hold nothing.
local gc_at = #claimed == 0 and tonumber(redis.call('HGET', rt_key(P, rts[1]), 'gc_at') or '0')
if gc_at and now - gc_at >= GC_EVERY_MS then
  redis.call('HSET', rt_key(P, rts[1]), 'gc_at', now)
  for _, rt in ipairs(rts) do
    for k = 1, nkinds do
      local sk = stream_key(P, rt, kinds[k])
      if redis.call('EXISTS', sk) == 1 then forget_idle_consumers(sk) end
    end
  end
end

local next_in = -1
for _, rt in ipairs(rts) do
  local n = next_deadline_in(P, rt, now)
  if n >= 0 and (next_in < 0 or n < next_in) then next_in = n end
end
local reply = {'ok', next_in}
for _, c in ipairs(claimed) do reply[#reply + 1] = c end
return reply
