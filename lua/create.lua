--[[ Create a request on a runtime.
KEYS[1]  runtime hash (P.."rt:"..R)
ARGV[1]  P, the workspace prefix "courier:{ws:W}:"      ARGV[2]  runtime id R
ARGV[3]  new request id                                ARGV[4]  kind
ARGV[5]  payload (JSON text)                           ARGV[6]  creator (user id)
ARGV[7]  idempotency key, or ""                        ARGV[8]  pending timeout ms
ARGV[9]  running timeout ms                            ARGV[10] claim lease ms
ARGV[11] retention ms                                  ARGV[12] max attempts
ARGV[13] "1": coalesce with a pending request of this kind (local_skill_list)
ARGV[14] "1": at most one live request of this kind per runtime (update)
ARGV[15] bound on live requests per runtime (1000)
ARGV[16] "1": only the runtime's owner may create this kind
ARGV[17] the longest a request of any kind can live (ms): the TTL of the runtime's queues
ARGV[18] consumer of a claim parked on the calling node for this runtime and kind, or "": the
         request (and any older one of this kind nobody has read yet) goes to it at once, as a
         claim would hand it out — no wake-up round trip. ARGV[19] at most this many.
Returns: {"created"|"existing", record (11 fields, see record_reply) as created, next deadline
         in ms, {claimed request (as claim.lua returns them)...}}
     or {"runtime_not_found"} {"runtime_offline"} {"idempotency_key_reused"}
        {"update_in_progress"} {"queue_full"} {"forbidden"}
]]
local P, rt, id, kind, payload, creator, idem = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
                                                ARGV[6], ARGV[7]
local p_ms, r_ms, l_ms, ret_ms, max_att = tonumber(ARGV[8]), tonumber(ARGV[9]),
    tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local rtk = KEYS[1]
local now = now_ms()

if redis.call('EXISTS', rtk) == 0 then return {'runtime_not_found'} end
if ARGV[16] == '1' and redis.call('HGET', rtk, 'owner') ~= creator then return {'forbidden'} end
apply_due(P, rt, now)

local function existing(other)
  local dl = redis.call('ZSCORE', rtk .. ':deadlines', other)
  return {'existing', record_reply(req_key(P, other)), dl and math.max(0, tonumber(dl) - now) or -1}
end

local idem_key = nil
if idem ~= '' then
  idem_key = rtk .. ':idem:' .. creator .. ':' .. idem
  local other = redis.call('GET', idem_key)
  if other then
    local f = redis.call('HMGET', req_key(P, other), 'kind', 'payload')
    if f[1] then
      if f[1] ~= kind or f[2] ~= payload then return {'idempotency_key_reused'} end
      return existing(other)
    end
  end
end

if redis.call('EXISTS', rtk .. ':alive') == 0 then return {'runtime_offline'} end

if ARGV[13] == '1' then
  local other = redis.call('GET', rtk .. ':coalesce:' .. kind)
  if other and redis.call('HGET', req_key(P, other), 'status') == 'pending' then
    -- A retry with this key must find the same request, even once it is claimed.
    local ttl = redis.call('PTTL', req_key(P, other))
    if idem_key and ttl > 0 then redis.call('SET', idem_key, other, 'PX', ttl) end
    return existing(other)
  end
end
if ARGV[14] == '1' then
  local other = redis.call('GET', rtk .. ':active:' .. kind)
  if other then
    local status = redis.call('HGET', req_key(P, other), 'status')
    if status and not is_terminal(status) then return {'update_in_progress'} end
  end
end
local live = redis.call('ZCARD', rtk .. ':deadlines')
if live >= tonumber(ARGV[15]) then return {'queue_full'} end

-- Long enough for every attempt to time out and the result to be read.
local safety = max_att * (p_ms + r_ms) + ret_ms
local rk = req_key(P, id)
local pdl = now + p_ms
local sk = stream_key(P, rt, kind)
local fresh_stream = redis.call('EXISTS', sk) == 0
if fresh_stream then redis.call('XGROUP', 'CREATE', sk, GROUP, '0', 'MKSTREAM') end
local entry = redis.call('XADD', sk, '*', 'id', id)
redis.call('HSET', rk, 'id', id, 'rt', rt, 'kind', kind, 'status', 'pending', 'version', 1,
           'attempt', 0, 'payload', payload, 'result', '', 'error', '', 'created', now,
           'updated', now, 'creator', creator, 'consumer', '', 'entry', entry, 'pdl', pdl,
           'lease', '', 'rdl', '', 'ext', '0', 'p_ms', p_ms, 'r_ms', r_ms, 'l_ms', l_ms,
           'ret_ms', ret_ms, 'max_att', max_att, 'idem', idem)
redis.call('PEXPIRE', rk, safety)
redis.call('ZADD', rtk .. ':deadlines', pdl, id)
-- A runtime's queues expire once it has been idle longer than any of their requests can live:
-- the kind's stream after this kind's life, the deadline set (all kinds) after the longest.
local queue_ttl = tonumber(ARGV[17])
-- TTLs only ever grow here (GT): nodes with other --kinds must not cut a live request's queue
-- short. A key this call created gets its TTL at once; one that (unexpectedly) has none gets
-- one with NX.
local function extend_ttl(key, ms, fresh)
  if fresh then
    redis.call('PEXPIRE', key, ms)
  elseif redis.call('PEXPIRE', key, ms, 'GT') == 0 then
    redis.call('PEXPIRE', key, ms, 'NX')
  end
end
extend_ttl(sk, safety, fresh_stream)  -- a stream holds one kind: its requests live this long
extend_ttl(rtk .. ':deadlines', queue_ttl, live == 0)  -- an empty set does not exist
if idem_key then redis.call('SET', idem_key, id, 'PX', safety) end
if ARGV[13] == '1' then redis.call('SET', rtk .. ':coalesce:' .. kind, id, 'PX', safety) end
if ARGV[14] == '1' then redis.call('SET', rtk .. ':active:' .. kind, id, 'PX', safety) end
local handed = {}
local consumer = ARGV[18]
if consumer ~= '' then
  -- '>' gives the oldest entries nobody has read: this request, or older ones before it.
  handed = claim_new(P, rt, kind, sk, consumer, tonumber(ARGV[19]), false, now)
end
-- A request handed out here needs no 'pending' wake-up: no claim could take it any more, and
-- nobody else can be waiting on a request that did not exist before this call.
local was_handed = false
for _, c in ipairs(handed) do was_handed = was_handed or c[1] == id end
if not was_handed then publish(P, rt, id, kind, 'pending', 1, p_ms) end
local at = string.format('%d', now)
return {'created', {id, rt, kind, 'pending', '1', '0', payload, '', '', at, at}, p_ms, handed}
