package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Redis keys (one Redis, or one database of it, per fleet):
//
//	shipshape:queue            list of job ids waiting (LPUSH in, taken from the right)
//	shipshape:processing       list of job ids claimed by a replica
//	shipshape:lease:ID         the claiming replica's name, expiring unless renewed
//	shipshape:job:ID           hash: image, status, error, times, progress, attempts,
//	                           finished (times a result was recorded: 1)
//	shipshape:report:ID        the finished JSON report, with the TTL
//	shipshape:stats:analysed   hash: layer diffID → times a replica analysed it
//	shipshape:layer:KEY        a layer's facts (internal/cache/rediscache)
//
// A job whose lease expires (its replica died) is put back on the queue
// by any replica's reaper, up to maxAttempts claims; a replica that lost
// its lease cannot record a result, so no job is finished twice. Jobs
// that carry registry credentials never enter Redis's queue: they run on
// the replica that took the request (the credentials stay in its memory),
// and only their state and report are shared.
const redisPrefix = "shipshape:"

const (
	redisQueue      = redisPrefix + "queue"
	redisProcessing = redisPrefix + "processing"
)

func redisJob(id string) string    { return redisPrefix + "job:" + id }
func redisLease(id string) string  { return redisPrefix + "lease:" + id }
func redisReport(id string) string { return redisPrefix + "report:" + id }

// Default lease of a claimed job and how often it is renewed.
const (
	DefaultLease       = 30 * time.Second
	defaultMaxAttempts = 3
)

// claimScript moves the oldest queued job to processing and leases it to
// ARGV[1] for ARGV[2] ms, atomically (a job is never claimed unleased).
var claimScript = redis.NewScript(`
local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if not id then return false end
redis.call('SET', ARGV[4] .. 'lease:' .. id, ARGV[1], 'PX', ARGV[2])
redis.call('HSET', ARGV[4] .. 'job:' .. id, 'status', 'running', 'replica', ARGV[1], 'startedAt', ARGV[3])
redis.call('HINCRBY', ARGV[4] .. 'job:' .. id, 'attempts', 1)
return id`)

// renewScript extends a lease its owner still holds.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

// finishScript records a result if the caller still holds the lease.
// KEYS: lease, job, report, processing. ARGV: replica, report JSON (or
// ""), status, error, ttl ms, finishedAt, id.
var finishScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[5]) end
redis.call('HSET', KEYS[2], 'status', ARGV[3], 'error', ARGV[4], 'finishedAt', ARGV[6])
redis.call('HINCRBY', KEYS[2], 'finished', 1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('DEL', KEYS[1])
redis.call('LREM', KEYS[4], 0, ARGV[7])
return 1`)

// handBackScript returns a claimed job to the front of the queue.
// KEYS: lease, job, processing, queue. ARGV: replica, id.
var handBackScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('LREM', KEYS[3], 0, ARGV[2])
redis.call('HSET', KEYS[2], 'status', 'queued')
redis.call('HINCRBY', KEYS[2], 'attempts', -1)
redis.call('RPUSH', KEYS[4], ARGV[2])
return 1`)

// reapScript requeues a processing job whose lease expired, or fails it
// after ARGV[2] attempts. KEYS: lease, processing, job, queue. ARGV: id,
// max attempts, finishedAt.
var reapScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('LREM', KEYS[2], 0, ARGV[1]) == 0 then return 0 end
local n = tonumber(redis.call('HGET', KEYS[3], 'attempts') or '0')
if n >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[3], 'status', 'failed', 'error', 'abandoned: ' .. n .. ' replicas claimed the scan and stopped before finishing it', 'finishedAt', ARGV[3])
  return 2
end
redis.call('HSET', KEYS[3], 'status', 'queued')
redis.call('RPUSH', KEYS[4], ARGV[1])
return 1`)

// shared is the fleet's Redis store.
type shared struct {
	c           *redis.Client
	replica     string
	lease       time.Duration
	ttl         time.Duration
	queueCap    int
	maxAttempts int
}

func newShared(ctx context.Context, url, replica string, lease, ttl time.Duration, queueCap int) (*shared, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	c := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("--redis %s: %w", opt.Addr, err)
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	return &shared{c: c, replica: replica, lease: lease, ttl: ttl, queueCap: queueCap, maxAttempts: defaultMaxAttempts}, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// create records a job; queued puts it on the shared queue.
func (r *shared) create(ctx context.Context, j *job, queued bool) (int, error) {
	if queued {
		n, err := r.c.LLen(ctx, redisQueue).Result()
		if err != nil {
			return 503, fmt.Errorf("the shared queue (Redis) does not answer: %w", err)
		}
		if int(n) >= r.queueCap {
			return 429, fmt.Errorf("the shared scan queue is full (%d waiting); retry later", n)
		}
	}
	fields := map[string]any{"image": j.ref, "status": StatusQueued, "createdAt": stamp(j.createdAt), "attempts": 0}
	if j.severities != nil {
		ss := make([]string, len(j.severities))
		for i, s := range j.severities {
			ss[i] = string(s)
		}
		fields["severity"] = strings.Join(ss, ",")
	}
	if j.artifact != nil {
		b, _ := json.Marshal(j.artifact)
		fields["artifact"] = string(b)
	}
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, redisJob(j.id), fields)
		p.PExpire(ctx, redisJob(j.id), r.ttl)
		if queued {
			p.LPush(ctx, redisQueue, j.id)
		}
		return nil
	})
	if err != nil {
		return 503, fmt.Errorf("the shared queue (Redis): %w", err)
	}
	return 0, nil
}

// claim takes the oldest queued job, or returns nil.
func (r *shared) claim(ctx context.Context, now time.Time) (*job, error) {
	res, err := claimScript.Run(ctx, r.c, []string{redisQueue, redisProcessing}, r.replica, r.lease.Milliseconds(), stamp(now), redisPrefix).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id, _ := res.(string)
	j, err := r.load(ctx, id)
	if err != nil || j == nil {
		// The job's record expired: drop it.
		r.c.Del(ctx, redisLease(id))
		r.c.LRem(ctx, redisProcessing, 0, id)
		return nil, err
	}
	j.shared = true
	j.status = StatusRunning
	return j, nil
}

// load reads a job's record (without its report); nil when unknown.
func (r *shared) load(ctx context.Context, id string) (*job, error) {
	h, err := r.c.HGetAll(ctx, redisJob(id)).Result()
	if err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, nil
	}
	j := &job{id: id, ref: h["image"], status: h["status"], err: h["error"]}
	j.createdAt, _ = time.Parse(time.RFC3339Nano, h["createdAt"])
	j.startedAt, _ = time.Parse(time.RFC3339Nano, h["startedAt"])
	j.finishedAt, _ = time.Parse(time.RFC3339Nano, h["finishedAt"])
	if h["severity"] != "" {
		j.severities, _ = scorecard.ParseSeverities(h["severity"])
	}
	if h["artifact"] != "" {
		var a harborArtifact
		if json.Unmarshal([]byte(h["artifact"]), &a) == nil {
			j.artifact = &a
		}
	}
	for k, p := range map[string]interface{ Store(int64) }{"layers": &j.layers, "layersDone": &j.layersDone, "layersCached": &j.layersCached, "bytesRead": &j.bytesRead} {
		n, _ := strconv.ParseInt(h[k], 10, 64)
		p.Store(n)
	}
	if h["grade"] != "" {
		j.grade = scorecard.Grade(h["grade"])
		json.Unmarshal([]byte(h["practices"]), &j.practices)
	}
	return j, nil
}

// report reads a finished job's report.
func (r *shared) report(ctx context.Context, id string) (*scorecard.Report, error) {
	b, err := r.c.Get(ctx, redisReport(id)).Bytes()
	if err != nil {
		return nil, err
	}
	return DecodeReport(b)
}

// progress publishes a running job's progress.
func (r *shared) progress(ctx context.Context, j *job) {
	r.c.HSet(ctx, redisJob(j.id), "layers", j.layers.Load(), "layersDone", j.layersDone.Load(), "layersCached", j.layersCached.Load(), "bytesRead", j.bytesRead.Load())
}

// keepLease renews j's lease until ctx ends; lost is called if another
// replica took the job over.
func (r *shared) keepLease(ctx context.Context, id string, lost func()) {
	t := time.NewTicker(r.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := renewScript.Run(ctx, r.c, []string{redisLease(id)}, r.replica, r.lease.Milliseconds()).Int()
			if err == nil && n == 0 {
				lost()
				return
			}
		}
	}
}

// finish records a result: for a claimed job only while its lease holds
// (it reports false otherwise), for a local one always.
func (r *shared) finish(ctx context.Context, j *job, rep *scorecard.Report, status, msg string, now time.Time) (bool, error) {
	var body []byte
	if rep != nil {
		var err error
		if body, err = json.Marshal(rep); err != nil {
			return false, err
		}
	}
	summary := map[string]any{}
	if rep != nil {
		p, _ := json.Marshal(j.practices)
		summary = map[string]any{"grade": string(rep.Grade), "practices": string(p)}
	}
	if !j.shared {
		_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if body != nil {
				p.Set(ctx, redisReport(j.id), body, r.ttl)
			}
			p.HSet(ctx, redisJob(j.id), "status", status, "error", msg, "finishedAt", stamp(now))
			p.HIncrBy(ctx, redisJob(j.id), "finished", 1)
			if len(summary) > 0 {
				p.HSet(ctx, redisJob(j.id), summary)
			}
			p.PExpire(ctx, redisJob(j.id), r.ttl)
			return nil
		})
		return err == nil, err
	}
	if len(summary) > 0 {
		r.c.HSet(ctx, redisJob(j.id), summary)
	}
	n, err := finishScript.Run(ctx, r.c, []string{redisLease(j.id), redisJob(j.id), redisReport(j.id), redisProcessing},
		r.replica, string(body), status, msg, r.ttl.Milliseconds(), stamp(now), j.id).Int()
	return n == 1, err
}

// handBack returns a claimed job to the queue (shutdown).
func (r *shared) handBack(ctx context.Context, id string) error {
	return handBackScript.Run(ctx, r.c, []string{redisLease(id), redisJob(id), redisProcessing, redisQueue}, r.replica, id).Err()
}

// reap requeues jobs whose replica stopped renewing their lease.
func (r *shared) reap(ctx context.Context, now time.Time) (requeued int, err error) {
	ids, err := r.c.LRange(ctx, redisProcessing, 0, -1).Result()
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		n, err := reapScript.Run(ctx, r.c, []string{redisLease(id), redisProcessing, redisJob(id), redisQueue}, id, r.maxAttempts, stamp(now)).Int()
		if err != nil {
			return requeued, err
		}
		if n == 1 {
			requeued++
		}
	}
	return requeued, nil
}

// depth is the shared queue's length.
func (r *shared) depth(ctx context.Context) int64 {
	n, _ := r.c.LLen(ctx, redisQueue).Result()
	return n
}

// redisAnalysed counts, per layer diffID, how often a replica analysed
// the layer instead of taking it from the layer cache (fleet-wide).
const redisAnalysed = redisPrefix + "stats:analysed"

// analysed counts one analysis of a layer.
func (r *shared) analysed(ctx context.Context, diffID string) {
	r.c.HIncrBy(ctx, redisAnalysed, diffID, 1)
}
