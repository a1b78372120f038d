--[[ Record a daemon's result: fenced by attempt alone.
KEYS[1]  the request's hash
ARGV[1]  P   ARGV[2] runtime id   ARGV[3] request id
ARGV[4]  attempt, or "" for the current one (compatibility reports carry none)
ARGV[5]  "completed" | "failed"   ARGV[6] result (JSON text, or "")   ARGV[7] error text
ARGV[8]  the kind the route reports for, or "" (compatibility routes are per kind)
Accepted when the request has not ended and the attempt is the current one, even if its lease
ran out and nobody has taken it over yet (it may be back in pending, same attempt).
A completed local_skill_import writes the skill in the same call (see import_skill), so the
skill and the request's completion are recorded together or not at all: no orphan skill, and a
retried report finds the request ended and is ignored.
Returns: {"ok"} | {"ignored"} (already ended) | {"cancelled"} | {"lease_lost"} | {"not_found"}
]]
local P, rt, id, attempt = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rk = KEYS[1]
local now = now_ms()

local MAX_FILES = 256
local MAX_BUNDLE_BYTES = 8 * 1024 * 1024

-- RFC 3339 UTC with milliseconds from Unix ms (Redis' Lua has no os.date).
local function rfc3339(ms)
  local secs = math.floor(ms / 1000)
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  -- civil_from_days (Howard Hinnant)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) -
                          math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600),
                       math.floor(rem % 3600 / 60), rem % 60, ms % 1000)
end

local function trim(s)
  if type(s) ~= 'string' then return '' end
  return (s:gsub('^%s+', ''):gsub('%s+$', ''))
end

-- Empty, absolute, or escaping with "..": dropped.
local function safe_path(p)
  if type(p) ~= 'string' or p == '' or p:sub(1, 1) == '/' or p:sub(1, 1) == '\\' then
    return false
  end
  for seg in p:gmatch('[^/\\]+') do
    if seg == '..' then return false end
  end
  return true
end

local function json_string(s) return cjson.encode(s) end

-- The skill as API.md shows it: files as a JSON array even when empty (cjson would write {}).
local function skill_json(sk, files_json)
  return '{"id":' .. json_string(sk.id) .. ',"workspace_id":' .. json_string(sk.workspace_id) ..
         ',"name":' .. json_string(sk.name) .. ',"description":' .. json_string(sk.description) ..
         ',"content":' .. json_string(sk.content) .. ',"config":' .. sk.config ..
         ',"created_by":' .. json_string(sk.created_by) .. ',"created_at":' ..
         json_string(rfc3339(sk.created)) .. ',"updated_at":' .. json_string(rfc3339(sk.updated)) ..
         ',"files":' .. files_json .. '}'
end

-- Applies a completed import. Returns status, result JSON, error.
local function import_skill(result_json)
  local ok, result = pcall(cjson.decode, result_json)
  local bundle = ok and type(result) == 'table' and result.skill or nil
  if type(bundle) ~= 'table' then
    return 'failed', nil, 'daemon returned an empty skill bundle'
  end
  local f = redis.call('HMGET', rk, 'payload', 'creator')
  local okp, payload = pcall(cjson.decode, f[1])
  if not okp or type(payload) ~= 'table' then payload = {} end
  local creator = f[2]

  local name = trim(payload.name)
  if name == '' then name = trim(bundle.name) end
  if name == '' then return 'failed', nil, 'the skill has no name' end
  local description = trim(payload.description)
  if description == '' then description = type(bundle.description) == 'string' and bundle.description or '' end
  local content = type(bundle.content) == 'string' and bundle.content or ''

  local files = {}
  local bytes = #content
  if type(bundle.files) == 'table' then
    for _, file in ipairs(bundle.files) do
      if type(file) == 'table' and safe_path(file.path) then
        local text = type(file.content) == 'string' and file.content or ''
        files[#files + 1] = {path = file.path, content = text}
        bytes = bytes + #text
      end
    end
  end
  if #files > MAX_FILES then
    return 'failed', nil, 'the skill bundle has more than ' .. MAX_FILES .. ' files'
  end
  if bytes > MAX_BUNDLE_BYTES then
    return 'failed', nil, 'the skill bundle is larger than 8 MiB'
  end

  local names = P .. 'skill_names'
  local sid
  local created = now
  if payload.action == 'overwrite' then
    sid = payload.target_skill_id
    local t = type(sid) == 'string' and
                  redis.call('HMGET', P .. 'skill:' .. sid, 'name', 'created_by', 'created') or {}
    if not t[1] then return 'failed', nil, 'target skill no longer exists' end
    if t[2] ~= creator then
      return 'failed', nil, 'you no longer have permission to overwrite this skill'
    end
    if t[1] ~= name then
      return 'failed', nil, 'target skill name no longer matches the imported skill'
    end
    created = tonumber(t[3])
  else
    local existing = redis.call('HGET', names, name)
    if existing and existing ~= id then
      if payload.supports_conflict == true then
        local by = redis.call('HGET', P .. 'skill:' .. existing, 'created_by') or ''
        return 'conflict', '{"conflict":{"existing_skill_id":' .. json_string(existing) ..
                   ',"existing_created_by":' .. json_string(by) .. ',"can_overwrite":' ..
                   tostring(by == creator) .. '}}', ''
      end
      return 'failed', nil, 'a skill with this name already exists'
    end
    -- A new skill is keyed by the request that created it.
    sid = id
    if existing == id then created = tonumber(redis.call('HGET', P .. 'skill:' .. sid, 'created')) end
  end

  local parts = {}
  for i, file in ipairs(files) do
    parts[i] = '{"id":' .. json_string(sid .. '-' .. i) .. ',"skill_id":' .. json_string(sid) ..
               ',"path":' .. json_string(file.path) .. ',"content":' .. json_string(file.content) ..
               '}'
  end
  local files_json = '[' .. table.concat(parts, ',') .. ']'
  local config = '{"origin":{"type":"runtime_local","runtime_id":' .. json_string(rt) ..
                 ',"provider":' .. json_string(type(bundle.provider) == 'string' and bundle.provider or '') ..
                 ',"source_path":' ..
                 json_string(type(bundle.source_path) == 'string' and bundle.source_path or '') .. '}}'
  local ws = P:match('^courier:{ws:(.*)}:$') or ''
  local sk = {id = sid, workspace_id = ws, name = name, description = description,
              content = content, config = config, created_by = creator, created = created,
              updated = now}
  local skey = P .. 'skill:' .. sid
  redis.call('HSET', skey, 'id', sid, 'name', name, 'description', description, 'content', content,
             'config', config, 'created_by', creator, 'created', created, 'updated', now,
             'files', files_json, 'file_count', #files)
  redis.call('HSET', names, name, sid)
  redis.call('ZADD', P .. 'skills', created, sid)
  return 'completed', '{"skill":' .. skill_json(sk, files_json) .. '}', ''
end

-- END_FIELDS (1-9: rt kind entry version ret_ms created status attempt payload), then what
-- places the next deadline (10-13).
local function read()
  local fields = {unpack(END_FIELDS)}
  for _, name in ipairs({'pdl', 'lease', 'rdl', 'ext'}) do fields[#fields + 1] = name end
  return redis.call('HMGET', rk, unpack(fields))
end
local f = read()
if f[1] ~= rt or (ARGV[8] ~= '' and f[2] ~= ARGV[8]) then return {'not_found'} end
-- A deadline that is due is applied first (the report may come too late).
local due = deadline_of(f[7], f[10], f[11], f[12], f[13])
if due and due <= now then
  apply_deadline(P, rt, id, now)
  f = read()
end
if f[7] == 'cancelled' then return {'cancelled'} end
if is_terminal(f[7]) then return {'ignored'} end
if f[8] == '0' or (attempt ~= '' and attempt ~= f[8]) then return {'lease_lost'} end

local status, result, err = ARGV[5], ARGV[6] ~= '' and ARGV[6] or 'null', ARGV[7]
if f[2] == 'local_skill_import' and status == 'completed' then
  status, result, err = import_skill(ARGV[6] ~= '' and ARGV[6] or 'null')
  result = result or 'null'
end
end_request(P, id, status, result, err, now, f)
return {'ok'}
