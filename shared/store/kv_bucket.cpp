#include "shared/store/kv_bucket.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "shared/crypto/base64url.h"

namespace proxyos::store {

namespace {

// NATS.c reports a lost compare-and-set as plain NATS_ERR; the reason is only
// in the thread's last-error text (TOOLCHAIN.md).
bool lastErrorIsWrongSequence() {
  const char* last = nats_GetLastError(nullptr);
  return last != nullptr && std::strstr(last, "wrong last sequence") != nullptr;
}

KvEntry toEntry(kvEntry* e) {
  KvEntry out;
  out.key = kvEntry_Key(e);
  const void* v = kvEntry_Value(e);
  out.value.assign(static_cast<const char*>(v ? v : ""), static_cast<size_t>(kvEntry_ValueLen(e)));
  out.revision = kvEntry_Revision(e);
  switch (kvEntry_Operation(e)) {
    case kvOp_Delete: out.op = KvEntry::Op::Delete; break;
    case kvOp_Purge: out.op = KvEntry::Op::Purge; break;
    default: out.op = KvEntry::Op::Put; break;
  }
  out.created = Clock::WallTime{std::chrono::duration_cast<Clock::WallTime::duration>(
      std::chrono::nanoseconds{kvEntry_Created(e)})};
  return out;
}

}  // namespace

std::string encodeKeyPart(const std::string& text) { return crypto::base64UrlEncode(text); }

KvBucket::KvBucket(std::shared_ptr<NatsConnection> conn, KvBucketConfig config, KvBucketTiming timing)
    : conn_(std::move(conn)), config_(std::move(config)), timing_(timing) {}

KvBucket::~KvBucket() {
  if (kv_ != nullptr) kvStore_Destroy(kv_);
}

template <class Out>
Out KvBucket::noteRetries(Out out, int retries, const char* what) {
  retries_ += static_cast<std::uint64_t>(retries);
  if (retries > 0) {
    if (out.ok()) {
      spdlog::info("{} {} succeeded after {} retries (NATS leader election?)", what, config_.name, retries);
    } else {
      Error e = out.error();
      e.message += " (after " + std::to_string(retries) + " retries)";
      return Out(std::move(e));
    }
  }
  return out;
}

template <class Attempt>
auto KvBucket::read(const char* what, Attempt&& attempt) -> decltype(attempt()) {
  int retries = 0;
  auto out = retrying(timing_.retry, *timing_.clock, *timing_.sleeper, attempt, mayRetryRead, &retries);
  return noteRetries(std::move(out), retries, what);
}

template <class Attempt>
auto KvBucket::write(const char* what, Attempt&& attempt) -> decltype(attempt(std::declval<WriteAttempt&>())) {
  WriteAttempt last;
  auto once = [&] {
    last = WriteAttempt{};
    return attempt(last);
  };
  auto retryable = [&last](const Error& e) { return mayRetryWrite(last, e); };
  int retries = 0;
  auto out = retrying(timing_.retry, *timing_.clock, *timing_.sleeper, once, retryable, &retries);
  return noteRetries(std::move(out), retries, what);
}

Result<kvStore*> KvBucket::store() {
  std::lock_guard lock(mu_);
  if (kv_ != nullptr) return kv_;
  auto kv = bindOrCreate();
  if (kv) kv_ = kv.value();
  return kv;
}

Result<kvStore*> KvBucket::bindOrCreate() {
  kvStore* kv = nullptr;
  natsStatus s = js_KeyValue(&kv, conn_->jetStream(), config_.name.c_str());
  if (s == NATS_OK) {
    raiseReplicas();
    return kv;
  }
  // NATS down or electing: the caller's own retry rule decides what to do.
  if (s != NATS_NOT_FOUND) return natsError(s, "open bucket " + config_.name);

  // Missing: create it. Creating is idempotent for the same config, and
  // another replica of the service may win the race; either way binding then
  // works. Creating an R3 bucket while a node is down can take seconds, or
  // time out and still succeed later: a long request timeout, then retries
  // that first check whether it exists by now.
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = config_.name.c_str();
  cfg.Description = config_.description.c_str();
  cfg.History = static_cast<uint8_t>(config_.history);
  cfg.Replicas = config_.replicas;
  jsOptions jsOpts;
  jsOptions_Init(&jsOpts);
  jsOpts.Wait = timing_.createTimeout.count();
  jsCtx* js = nullptr;
  s = natsConnection_JetStream(&js, conn_->raw(), &jsOpts);
  if (s != NATS_OK) return natsError(s, "jetstream");
  Backoff backoff(timing_.create, *timing_.clock, *timing_.sleeper);
  for (;;) {
    s = js_CreateKeyValue(&kv, js, &cfg);
    if (s == NATS_OK) break;
    const std::string reason = natsError(s, "create").message;
    s = js_KeyValue(&kv, conn_->jetStream(), config_.name.c_str());
    if (s == NATS_OK) break;
    spdlog::warn("creating bucket {} with {} replica(s): {}; retrying", config_.name, config_.replicas, reason);
    if (!backoff.next()) break;
  }
  jsCtx_Destroy(js);
  retries_ += static_cast<std::uint64_t>(backoff.retries());
  if (s != NATS_OK) return natsError(s, "create bucket " + config_.name);
  spdlog::info("bucket {} ready ({} replica(s) requested)", config_.name, config_.replicas);
  return kv;
}

void KvBucket::raiseReplicas() {
  const std::string stream = "KV_" + config_.name;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, conn_->jetStream(), stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) {
    spdlog::warn("bucket {}: could not read its replica count: {}", config_.name, natsError(s, "stream info").message);
    return;
  }
  const int has = std::max(1, static_cast<int>(si->Config->Replicas));
  if (has < config_.replicas) {
    // A stream's replica count can be changed in place; the new replicas
    // catch up from the leader. The meta leader must agree, hence the long
    // request timeout of bucket creation.
    si->Config->Replicas = config_.replicas;
    jsOptions opts;
    jsOptions_Init(&opts);
    opts.Wait = timing_.createTimeout.count();
    jsStreamInfo* updated = nullptr;
    s = js_UpdateStream(&updated, conn_->jetStream(), si->Config, &opts, &jerr);
    if (s == NATS_OK) {
      spdlog::info("bucket {} raised from {} to {} replicas (PROXYOS_NATS_REPLICAS)", config_.name, has,
                   config_.replicas);
      jsStreamInfo_Destroy(updated);
    } else {
      spdlog::warn("bucket {} has {} replica(s); raising it to PROXYOS_NATS_REPLICAS={} failed: {}", config_.name,
                   has, config_.replicas, natsError(s, "update stream").message);
    }
  } else if (has > config_.replicas) {
    spdlog::warn("bucket {} keeps its {} replicas: PROXYOS_NATS_REPLICAS={} never lowers them", config_.name, has,
                 config_.replicas);
  }
  jsStreamInfo_Destroy(si);
}

Status KvBucket::open() {
  auto kv = store();
  if (!kv) return kv.error();
  return okStatus();
}

Result<KvEntry> KvBucket::get(const std::string& key) {
  return read("get", [&]() -> Result<KvEntry> {
    auto kv = store();
    if (!kv) return kv.error();
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, kv.value(), key.c_str());
    if (s == NATS_NOT_FOUND) return Error::make(ErrorKind::NotFound, "not_found", key + " not found");
    if (s != NATS_OK) return natsError(s, "get " + key);
    KvEntry out = toEntry(e);
    kvEntry_Destroy(e);
    return out;
  });
}

Result<uint64_t> KvBucket::put(const std::string& key, const std::string& value) {
  return write("put", [&](WriteAttempt& attempt) -> Result<uint64_t> {
    auto kv = store();
    if (!kv) return kv.error();
    uint64_t rev = 0;
    attempt.sent = true;
    attempt.status = kvStore_Put(&rev, kv.value(), key.c_str(), value.data(), static_cast<int>(value.size()));
    if (attempt.status != NATS_OK) return natsError(attempt.status, "put " + key);
    return rev;
  });
}

Result<uint64_t> KvBucket::create(const std::string& key, const std::string& value) {
  return write("create", [&](WriteAttempt& attempt) -> Result<uint64_t> {
    auto kv = store();
    if (!kv) return kv.error();
    uint64_t rev = 0;
    attempt.sent = true;
    natsStatus s = attempt.status =
        kvStore_Create(&rev, kv.value(), key.c_str(), value.data(), static_cast<int>(value.size()));
    if (s == NATS_ERR && lastErrorIsWrongSequence())
      return Error::make(ErrorKind::Conflict, "kv_key_exists", key + " already exists");
    if (s != NATS_OK) return natsError(s, "create " + key);
    return rev;
  });
}

Result<uint64_t> KvBucket::update(const std::string& key, const std::string& value, uint64_t expected) {
  return write("update", [&](WriteAttempt& attempt) -> Result<uint64_t> {
    auto kv = store();
    if (!kv) return kv.error();
    uint64_t rev = 0;
    attempt.sent = true;
    natsStatus s = attempt.status =
        kvStore_Update(&rev, kv.value(), key.c_str(), value.data(), static_cast<int>(value.size()), expected);
    if (s == NATS_ERR && lastErrorIsWrongSequence())
      return Error::make(ErrorKind::PreconditionFailed, "kv_wrong_revision",
                         key + " changed since revision " + std::to_string(expected));
    if (s != NATS_OK) return natsError(s, "update " + key);
    return rev;
  });
}

Status KvBucket::remove(const std::string& key) {
  return write("delete", [&](WriteAttempt& attempt) -> Status {
    auto kv = store();
    if (!kv) return kv.error();
    attempt.sent = true;
    attempt.status = kvStore_Delete(kv.value(), key.c_str());
    if (attempt.status != NATS_OK) return natsError(attempt.status, "delete " + key);
    return okStatus();
  });
}

Status KvBucket::removeIfRevision(const std::string& key, uint64_t expected) {
  return write("delete", [&](WriteAttempt& attempt) -> Status {
    auto kv = store();
    if (!kv) return kv.error();
    // NATS.c 3.4 has no conditional delete; write the delete marker ourselves the
    // way kvStore_Delete does, with the stream's last-subject-sequence check.
    const std::string subject = "$KV." + config_.name + "." + key;
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, nullptr, 0);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectLastSubjectSeq = expected;
    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (s == NATS_OK) {
      attempt.sent = true;
      s = attempt.status = js_PublishMsg(&ack, conn_->jetStream(), msg, &po, &jerr);
    }
    natsMsg_Destroy(msg);
    jsPubAck_Destroy(ack);
    if (s != NATS_OK && (jerr == JSStreamWrongLastSequenceErr || lastErrorIsWrongSequence()))
      return Error::make(ErrorKind::PreconditionFailed, "kv_wrong_revision",
                         key + " changed since revision " + std::to_string(expected));
    if (s != NATS_OK) return natsError(s, "delete " + key);
    return okStatus();
  });
}

Result<std::vector<KvEntry>> KvBucket::snapshot(const std::string& filter) {
  return read("read", [&]() -> Result<std::vector<KvEntry>> {
    auto kv = store();
    if (!kv) return kv.error();
    kvWatchOptions opts;
    kvWatchOptions_Init(&opts);
    opts.IgnoreDeletes = true;
    kvWatcher* w = nullptr;
    natsStatus s = kvStore_Watch(&w, kv.value(), filter.c_str(), &opts);
    if (s != NATS_OK) return natsError(s, "watch " + filter);
    std::vector<KvEntry> out;
    for (;;) {
      kvEntry* e = nullptr;
      s = kvWatcher_Next(&e, w, conn_->timeout().count());
      if (s != NATS_OK) break;
      if (e == nullptr) break;  // snapshot complete
      KvEntry entry = toEntry(e);
      kvEntry_Destroy(e);
      if (entry.op == KvEntry::Op::Put) out.push_back(std::move(entry));
    }
    kvWatcher_Destroy(w);
    if (s != NATS_OK) return natsError(s, "read " + config_.name);
    return out;
  });
}

Result<uint64_t> KvBucket::lastRevision() {
  return read("stream info", [&]() -> Result<uint64_t> {
    auto kv = store();
    if (!kv) return kv.error();
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, conn_->jetStream(), ("KV_" + config_.name).c_str(), nullptr, &jerr);
    if (s != NATS_OK) return natsError(s, "stream info " + config_.name);
    const uint64_t last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return last;
  });
}

Result<std::unique_ptr<KvWatcher>> KvBucket::watch(const std::string& filter) {
  // Binding creates the bucket when missing; the watcher itself needs only its stream.
  if (auto kv = store(); !kv) return kv.error();
  auto w = std::make_unique<KvWatcher>(conn_, config_.name, filter, *timing_.clock, timing_.watch);
  if (auto st = w->start(); !st) return st.error();
  return w;
}

}  // namespace proxyos::store
