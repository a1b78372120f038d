--[[ Shared by every script (scripts/embed-lua prepends lua/lib/*.lua).

Key layout — every key of a workspace carries the hash tag {ws:W}, so one script may touch any
of them (P is the prefix "courier:{ws:W}:"):
  P.."rt:"..R                    hash    name, provider, owner, created, last_seen
  P.."rt:"..R..":alive"          string  liveness, PX 90 s, refreshed by claims
  P.."rt:"..R..":q:"..KIND       stream  one entry {id=ID} per live request; group "daemons"
  P.."rt:"..R..":deadlines"      zset    live request id → its next deadline (ms, Redis clock)
  P.."rt:"..R..":redeliver"      zset    requests back in pending whose entry sits in a PEL
  P.."req:"..ID                  hash    the record (see record_reply) + hidden fields
  P.."rt:"..R..":events"         channel wake-ups {"id","kind","status","version"}

Record hidden fields: creator, consumer, entry (stream entry id), pdl (pending deadline), lease
(lease deadline of the current attempt), rdl (running deadline of the current attempt), ext (1
once the current attempt extended its lease, or was claimed by a heartbeat), p_ms, r_ms, l_ms,
ret_ms, max_att (the kind's parameters, frozen at creation), idem (idempotency key), rel (claims
given back by a release: they do not count against max_att).
]]

local GROUP = 'daemons'
local DUE_BATCH = 64
-- Requests this call ended, flattened (kind, status, ms from creation): scripts/embed-lua wraps
-- every script so that it answers {its reply, ENDED}.
local ENDED = {}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function rt_key(P, rt) return P .. 'rt:' .. rt end
local function req_key(P, id) return P .. 'req:' .. id end
local function stream_key(P, rt, kind) return P .. 'rt:' .. rt .. ':q:' .. kind end

-- The public part of a record, in the order the node parses it.
local RECORD_FIELDS = {'id', 'rt', 'kind', 'status', 'version', 'attempt', 'payload', 'result',
                       'error', 'created', 'updated'}

local function record_reply(rk)
  return redis.call('HMGET', rk, unpack(RECORD_FIELDS))
end

local function is_terminal(status)
  return status ~= 'pending' and status ~= 'running'
end

-- "3 minutes", "60 seconds", "1.5 seconds": for timeout messages.
local function human_ms(ms)
  ms = tonumber(ms)
  if ms >= 120000 and ms % 60000 == 0 then return (ms / 60000) .. ' minutes' end
  if ms % 1000 == 0 then
    local s = ms / 1000
    return s .. (s == 1 and ' second' or ' seconds')
  end
  return string.format('%.1f seconds', ms / 1000)
end

-- A wake-up that ends a request carries the record (its 11 public fields, as strings, in
-- RECORD_FIELDS order) while it is this small, so a GET parked on it answers without a read.
local RECORD_IN_WAKEUP_MAX = 8192

-- A live request's wake-up carries next_ms, the ms to its next deadline: nodes that know it
-- park GETs on it without reading (core/waiters).
local function publish(P, rt, id, kind, status, version, next_ms, rec)
  redis.call('PUBLISH', P .. 'rt:' .. rt .. ':events',
             cjson.encode({id = id, kind = kind, status = status, version = tonumber(version),
                           next_ms = next_ms, rec = rec}))
end

-- What end_request needs of a record (a caller that read these already passes them on).
local END_FIELDS = {'rt', 'kind', 'entry', 'version', 'ret_ms', 'created', 'status', 'attempt',
                    'payload'}

-- Ends a live request: writes the outcome, removes it from the stream (XACK + XDEL: streams
-- hold only live requests), the deadline and redelivery sets, gives the record its retention
-- TTL and publishes the change. `f`: its END_FIELDS (as HMGET returned them), or nil to read.
-- Before it ends, a record's result is always empty: only an end writes one.
local function end_request(P, id, status, result, err, now, f)
  local rk = req_key(P, id)
  f = f or redis.call('HMGET', rk, unpack(END_FIELDS))
  local rt, kind, entry, version, ret_ms = f[1], f[2], f[3], tonumber(f[4]) + 1, f[5]
  -- Only a pending request can sit in the redelivery set (a running one just left it).
  local maybe_redelivery = f[7] == 'pending'
  err = err or ''
  ENDED[#ENDED + 1] = kind
  ENDED[#ENDED + 1] = status
  ENDED[#ENDED + 1] = now - tonumber(f[6])
  local fields = {'status', status, 'version', version, 'updated', now, 'error', err}
  if result then
    fields[#fields + 1] = 'result'
    fields[#fields + 1] = result
  end
  redis.call('HSET', rk, unpack(fields))
  local sk = stream_key(P, rt, kind)
  if entry and entry ~= '' then
    redis.call('XACK', sk, GROUP, entry)
    redis.call('XDEL', sk, entry)
  end
  local rtk = rt_key(P, rt)
  redis.call('ZREM', rtk .. ':deadlines', id)
  if maybe_redelivery then redis.call('ZREM', rtk .. ':redeliver', id) end
  redis.call('PEXPIRE', rk, ret_ms)
  local payload = f[9] or '{}'
  result = result or ''
  local rec = nil
  if #payload + #result + #err <= RECORD_IN_WAKEUP_MAX then
    rec = {id, rt, kind, status, tostring(version), f[8], payload, result, err, f[6],
           string.format('%d', now)}
  end
  publish(P, rt, id, kind, status, version, nil, rec)
end

-- Hands a pending request whose stream entry this consumer just read to it: running, the next
-- attempt, a lease. f: the record's version, attempt, r_ms, l_ms, payload. A heartbeat claim
-- (old daemons never extend) gets the running deadline as its lease. The wake-up carries the
-- lease: claims parked elsewhere set their timers by it, so a lease that lapses (the daemon
-- crashed) is redelivered on time. Returns the claim as the node renders it.
local function claim_request(P, rt, id, kind, f, consumer, heartbeat, now)
  local version, attempt = tonumber(f[1]) + 1, tonumber(f[2]) + 1
  local rdl = now + tonumber(f[3])
  local lease = heartbeat and rdl or math.min(now + tonumber(f[4]), rdl)
  redis.call('HSET', req_key(P, id), 'status', 'running', 'version', version, 'attempt', attempt,
             'consumer', consumer, 'updated', now, 'rdl', rdl, 'lease', lease,
             'ext', heartbeat and '1' or '0')
  redis.call('ZADD', rt_key(P, rt) .. ':deadlines', lease, id)
  publish(P, rt, id, kind, 'running', version, lease - now)
  return {id, rt, kind, f[5], attempt, lease}
end

-- Reads up to `count` entries of a kind's stream that nobody has read ('>') as `consumer` and
-- hands it their requests; entries whose record ended or vanished are acked and deleted (a dead
-- entry must not stop the live work behind it). Returns the claims, and how many entries it read.
local function claim_new(P, rt, kind, sk, consumer, count, heartbeat, now)
  local res = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', sk,
                         '>')
  local entries = res and res[1][2] or {}
  local claims = {}
  for _, e in ipairs(entries) do
    local entry, id = e[1], e[2][2]
    local f = redis.call('HMGET', req_key(P, id), 'status', 'entry', 'version', 'attempt', 'r_ms',
                         'l_ms', 'payload')
    if f[1] == 'pending' and f[2] == entry then
      claims[#claims + 1] = claim_request(P, rt, id, kind, {f[3], f[4], f[5], f[6], f[7]},
                                          consumer, heartbeat, now)
    else
      redis.call('XACK', sk, GROUP, entry)
      redis.call('XDEL', sk, entry)
    end
  end
  return claims, #entries
end

-- Puts a running request back to pending for redelivery. Its stream entry stays in the PEL of
-- the consumer that had it; the next claim XCLAIMs it (so it is never read twice with '>').
local function back_to_pending(P, id, now, give_back_attempt)
  local rk = req_key(P, id)
  local f = redis.call('HMGET', rk, 'rt', 'kind', 'version', 'p_ms', 'pdl', 'attempt')
  local rt, kind, version = f[1], f[2], tonumber(f[3]) + 1
  local pdl
  local fields = {'status', 'pending', 'version', version, 'updated', now, 'consumer', '',
                  'lease', '', 'rdl', '', 'ext', '0'}
  if give_back_attempt then
    -- A release is not a delivery: it does not count against the attempts, and the pending
    -- deadline is as before. The attempt number itself still only grows, so no two consumers
    -- ever hold the same attempt (a "gone" client may only have half-closed its socket).
    pdl = tonumber(f[5])
    redis.call('HINCRBY', rk, 'rel', 1)
  else
    pdl = now + tonumber(f[4])
    fields[#fields + 1] = 'pdl'
    fields[#fields + 1] = pdl
  end
  redis.call('HSET', rk, unpack(fields))
  local rtk = rt_key(P, rt)
  redis.call('ZADD', rtk .. ':deadlines', pdl, id)
  redis.call('ZADD', rtk .. ':redeliver', now, id)
  -- Redeliveries are rare: give the set the queues' TTL, so a runtime whose daemon never comes
  -- back leaves nothing behind.
  local ttl = redis.call('PTTL', rtk .. ':deadlines')
  if ttl > 0 then redis.call('PEXPIRE', rtk .. ':redeliver', ttl) end
  publish(P, rt, id, kind, 'pending', version, math.max(0, pdl - now))
end

-- When a live record's next deadline falls (ms), from its fields — the score it has in the
-- runtime's deadline set; nil if it has ended.
local function deadline_of(status, pdl, lease, rdl, ext)
  if status == 'pending' then return tonumber(pdl) end
  if status ~= 'running' then return nil end
  if ext == '1' then return tonumber(rdl) end
  return math.min(tonumber(lease), tonumber(rdl))
end

-- Applies the deadline of one request if it is due; else re-files its next deadline.
local function apply_deadline(P, rt, id, now)
  local rk = req_key(P, id)
  local dk = rt_key(P, rt) .. ':deadlines'
  local f = redis.call('HMGET', rk, 'status', 'pdl', 'lease', 'rdl', 'ext', 'attempt', 'max_att',
                       'p_ms', 'r_ms', 'l_ms', 'rel')
  local status = f[1]
  if not status or is_terminal(status) then
    redis.call('ZREM', dk, id)
    return
  end
  if status == 'pending' then
    local pdl = tonumber(f[2])
    if now >= pdl then
      end_request(P, id, 'timeout', nil, 'daemon did not respond within ' .. human_ms(f[8]), now)
    else
      redis.call('ZADD', dk, pdl, id)
    end
    return
  end
  -- running
  local lease, rdl, ext = tonumber(f[3]), tonumber(f[4]), f[5] == '1'
  if now >= rdl then
    end_request(P, id, 'timeout', nil, 'daemon did not finish within ' .. human_ms(f[9]), now)
  elseif not ext and now >= lease then
    -- Deliveries so far: attempts handed out, less those given back by a release.
    if tonumber(f[6]) - tonumber(f[11] or '0') < tonumber(f[7]) then
      back_to_pending(P, id, now, false)
    else
      end_request(P, id, 'timeout', nil,
                  'daemon did not acknowledge the request within ' .. human_ms(f[10]) ..
                  ' (' .. f[7] .. (f[7] == '1' and ' attempt)' or ' attempts)'), now)
    end
  else
    redis.call('ZADD', dk, ext and rdl or math.min(lease, rdl), id)
  end
end

-- Applies the due deadlines of one runtime, a bounded batch per call: no sweeper process.
local function apply_due(P, rt, now)
  local due = redis.call('ZRANGEBYSCORE', rt_key(P, rt) .. ':deadlines', '-inf', now,
                         'LIMIT', 0, DUE_BATCH)
  for _, id in ipairs(due) do apply_deadline(P, rt, id, now) end
end

-- Milliseconds from now to the runtime's earliest deadline, or -1 if it has none.
local function next_deadline_in(P, rt, now)
  local first = redis.call('ZRANGE', rt_key(P, rt) .. ':deadlines', 0, 0, 'WITHSCORES')
  if #first == 0 then return -1 end
  return math.max(0, tonumber(first[2]) - now)
end
