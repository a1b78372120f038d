--[[ Register (or update) a daemon's runtime in its workspace.
KEYS[1]  the runtime's hash
ARGV[1]  P   ARGV[2] runtime id   ARGV[3] name   ARGV[4] provider   ARGV[5] owner user id
Returns: {"created"|"updated", online (1/0)}
]]
local P, rt = ARGV[1], ARGV[2]
local rtk = KEYS[1]
local created = redis.call('EXISTS', rtk) == 0
redis.call('HSET', rtk, 'name', ARGV[3], 'provider', ARGV[4], 'owner', ARGV[5])
if created then redis.call('HSET', rtk, 'created', now_ms()) end
redis.call('SADD', P .. 'runtimes', rt)
return {created and 'created' or 'updated', redis.call('EXISTS', rtk .. ':alive')}
