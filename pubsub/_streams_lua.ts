// The Lua scripts of the Redis Streams backend, and the commands ioredis makes of them.
//
// Keys per topic: a stream `<prefix>{<topic>}:s` whose entry ids are `<offset>-0` and whose
// fields are e (epoch), t (Redis time in ms) and d (JSON data), and a hash
// `<prefix>{<topic>}:m` with e (the epoch) and o (the last offset given).

const LUA_COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The topic's epoch, made (with an empty history) when it has none.
local function ensure(stream, meta, fresh, ttl)
  local e = redis.call('HGET', meta, 'e')
  if not e then
    e = fresh
    redis.call('DEL', stream)
    redis.call('HSET', meta, 'e', e, 'o', 0)
  end
  if ttl > 0 then redis.call('PEXPIRE', meta, ttl) end
  return e
end
-- Drop the entries older than max_age ms. An entry is {id, {'e', epoch, 't', ms, 'd', data}}.
-- Usually the oldest one is fresh: one look. Otherwise pages of 100 until a fresh one.
local function expire(stream, max_age, now)
  if max_age <= 0 then return end
  local cutoff = now - max_age
  local count = 1
  while true do
    local old = redis.call('XRANGE', stream, '-', '+', 'COUNT', count)
    if #old == 0 then return end
    for i, entry in ipairs(old) do
      if tonumber(entry[2][4]) >= cutoff then
        if i > 1 or count > 1 then redis.call('XTRIM', stream, 'MINID', entry[1]) end
        return
      end
    end
    local last = tonumber(string.match(old[#old][1], '^(%d+)'))
    redis.call('XTRIM', stream, 'MINID', string.format('%d-0', last + 1))
    count = 100
  end
end
`;

// KEYS: stream, meta. ARGV: fresh epoch, meta ttl, max age, max length, data.
export const LUA_PUBLISH = LUA_COMMON + `
local now = now_ms()
local e = ensure(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
local o = redis.call('HINCRBY', KEYS[2], 'o', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], string.format('%d-0', o),
  'e', e, 't', string.format('%d', now), 'd', ARGV[5])
-- Trimmed by age when read (the read script): a publish only keeps an idle stream expiring.
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {e, o}
`;

// KEYS: stream, meta. ARGV: fresh epoch, meta ttl, max age, after epoch, after offset, limit.
export const LUA_READ = LUA_COMMON + `
local e = ensure(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
expire(KEYS[1], tonumber(ARGV[3]), now_ms())
local head = tonumber(redis.call('HGET', KEYS[2], 'o'))
local limit = tonumber(ARGV[6])
local entries = {}
if limit > 0 then
  local from = '-'
  if ARGV[4] == e then from = string.format('%d-0', tonumber(ARGV[5]) + 1) end
  entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', limit)
end
return {e, head, entries}
`;

// KEYS: metas. ARGV: meta ttl. The epochs ('' for none), keeping the metas alive.
export const LUA_CHECK = `
local out = {}
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local e = redis.call('HGET', key, 'e')
  if e and ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  out[i] = e or ''
end
return out
`;

export type RawEntry = [id: string, fields: string[]];

export interface Scripts {
  websockPublish(
    stream: string,
    meta: string,
    fresh: string,
    ttl: number,
    maxAge: number,
    maxLength: number,
    data: string,
  ): Promise<[string, number]>;
  websockRead(
    stream: string,
    meta: string,
    fresh: string,
    ttl: number,
    maxAge: number,
    afterEpoch: string,
    afterOffset: number,
    limit: number,
  ): Promise<[string, number, RawEntry[]]>;
  websockCheck(keys: number, ...args: (string | number)[]): Promise<string[]>;
}
