#include "shared/store/kv_bucket.h"

#include <algorithm>
#include <cstring>

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

KvBucket::KvBucket(std::shared_ptr<NatsConnection> conn, KvBucketConfig config)
    : conn_(std::move(conn)), config_(std::move(config)) {}

KvBucket::~KvBucket() {
  if (kv_ != nullptr) kvStore_Destroy(kv_);
}

Result<kvStore*> KvBucket::store() {
  std::lock_guard lock(mu_);
  if (kv_ != nullptr) return kv_;
  kvStore* kv = nullptr;
  natsStatus s = js_KeyValue(&kv, conn_->jetStream(), config_.name.c_str());
  if (s == NATS_NOT_FOUND) {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = config_.name.c_str();
    cfg.Description = config_.description.c_str();
    cfg.History = static_cast<uint8_t>(config_.history);
    cfg.Replicas = config_.replicas;
    // Creating is idempotent for the same config; another replica may win the race.
    s = js_CreateKeyValue(&kv, conn_->jetStream(), &cfg);
    if (s != NATS_OK) s = js_KeyValue(&kv, conn_->jetStream(), config_.name.c_str());
  }
  if (s != NATS_OK) return natsError(s, "open bucket " + config_.name);
  kv_ = kv;
  return kv_;
}

Status KvBucket::open() {
  auto kv = store();
  if (!kv) return kv.error();
  return okStatus();
}

Result<KvEntry> KvBucket::get(const std::string& key) {
  auto kv = store();
  if (!kv) return kv.error();
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, kv.value(), key.c_str());
  if (s == NATS_NOT_FOUND) return Error::make(ErrorKind::NotFound, "not_found", key + " not found");
  if (s != NATS_OK) return natsError(s, "get " + key);
  KvEntry out = toEntry(e);
  kvEntry_Destroy(e);
  return out;
}

Result<uint64_t> KvBucket::put(const std::string& key, const std::string& value) {
  auto kv = store();
  if (!kv) return kv.error();
  uint64_t rev = 0;
  natsStatus s = kvStore_Put(&rev, kv.value(), key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s != NATS_OK) return natsError(s, "put " + key);
  return rev;
}

Result<uint64_t> KvBucket::create(const std::string& key, const std::string& value) {
  auto kv = store();
  if (!kv) return kv.error();
  uint64_t rev = 0;
  natsStatus s = kvStore_Create(&rev, kv.value(), key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s == NATS_ERR && lastErrorIsWrongSequence())
    return Error::make(ErrorKind::Conflict, "kv_key_exists", key + " already exists");
  if (s != NATS_OK) return natsError(s, "create " + key);
  return rev;
}

Result<uint64_t> KvBucket::update(const std::string& key, const std::string& value, uint64_t expected) {
  auto kv = store();
  if (!kv) return kv.error();
  uint64_t rev = 0;
  natsStatus s =
      kvStore_Update(&rev, kv.value(), key.c_str(), value.data(), static_cast<int>(value.size()), expected);
  if (s == NATS_ERR && lastErrorIsWrongSequence())
    return Error::make(ErrorKind::PreconditionFailed, "kv_wrong_revision", key + " changed since revision " +
                                                                               std::to_string(expected));
  if (s != NATS_OK) return natsError(s, "update " + key);
  return rev;
}

Status KvBucket::remove(const std::string& key) {
  auto kv = store();
  if (!kv) return kv.error();
  natsStatus s = kvStore_Delete(kv.value(), key.c_str());
  if (s != NATS_OK) return natsError(s, "delete " + key);
  return okStatus();
}

Status KvBucket::removeIfRevision(const std::string& key, uint64_t expected) {
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
  if (s == NATS_OK) s = js_PublishMsg(&ack, conn_->jetStream(), msg, &po, &jerr);
  natsMsg_Destroy(msg);
  jsPubAck_Destroy(ack);
  if (s != NATS_OK && (jerr == JSStreamWrongLastSequenceErr || lastErrorIsWrongSequence()))
    return Error::make(ErrorKind::PreconditionFailed, "kv_wrong_revision",
                       key + " changed since revision " + std::to_string(expected));
  if (s != NATS_OK) return natsError(s, "delete " + key);
  return okStatus();
}

Result<std::vector<KvEntry>> KvBucket::snapshot(const std::string& filter) {
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
}

Result<uint64_t> KvBucket::lastRevision() {
  auto kv = store();
  if (!kv) return kv.error();
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, conn_->jetStream(), ("KV_" + config_.name).c_str(), nullptr, &jerr);
  if (s != NATS_OK) return natsError(s, "stream info " + config_.name);
  const uint64_t last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return last;
}

Result<std::unique_ptr<KvWatcher>> KvBucket::watch(const std::string& filter) {
  auto kv = store();
  if (!kv) return kv.error();
  kvWatcher* w = nullptr;
  natsStatus s = kvStore_Watch(&w, kv.value(), filter.c_str(), nullptr);
  if (s != NATS_OK) return natsError(s, "watch " + filter);
  return std::make_unique<KvWatcher>(w, conn_->jetStream(), "$KV." + config_.name + ".", filter);
}

KvWatcher::~KvWatcher() {
  if (live_ != nullptr) natsSubscription_Destroy(live_);
  if (w_ != nullptr) kvWatcher_Destroy(w_);
}

void KvWatcher::stop() {
  if (live_ != nullptr) natsSubscription_Unsubscribe(live_);
  if (w_ != nullptr) kvWatcher_Stop(w_);
}

Status KvWatcher::switchToLiveConsumer() {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = nullptr;
  so.Ordered = true;
  // Every entry after the last one of the snapshot. The snapshot delivered
  // the last entry of every key (deletes included), so the highest revision
  // seen is the stream's last sequence when the snapshot was taken.
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = lastRevision_ + 1;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const std::string subject = prefix_ + filter_;
  natsStatus s = js_SubscribeSync(&sub, js_, subject.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK) return natsError(s, "watch " + subject);
  live_ = sub;
  kvWatcher_Destroy(w_);
  w_ = nullptr;
  return okStatus();
}

Result<KvWatcher::Event> KvWatcher::next(std::chrono::milliseconds timeout) {
  if (live_ != nullptr) {
    natsMsg* msg = nullptr;
    natsStatus s = natsSubscription_NextMsg(&msg, live_, timeout.count());
    if (s == NATS_TIMEOUT) return Event{};
    if (s != NATS_OK) return natsError(s, "watch");
    Event ev{Event::Type::Entry, {}};
    const char* subject = natsMsg_GetSubject(msg);
    ev.entry.key = std::strncmp(subject, prefix_.c_str(), prefix_.size()) == 0 ? subject + prefix_.size() : subject;
    const char* data = natsMsg_GetData(msg);
    ev.entry.value.assign(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)));
    const char* op = nullptr;
    if (natsMsgHeader_Get(msg, "KV-Operation", &op) == NATS_OK && op != nullptr) {
      if (std::strcmp(op, "DEL") == 0) ev.entry.op = KvEntry::Op::Delete;
      else if (std::strcmp(op, "PURGE") == 0) ev.entry.op = KvEntry::Op::Purge;
    }
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      ev.entry.revision = meta->Sequence.Stream;
      ev.entry.created = Clock::WallTime{std::chrono::duration_cast<Clock::WallTime::duration>(
          std::chrono::nanoseconds{meta->Timestamp})};
      jsMsgMetaData_Destroy(meta);
    }
    natsMsg_Destroy(msg);
    lastRevision_ = std::max(lastRevision_, ev.entry.revision);
    return ev;
  }
  kvEntry* e = nullptr;
  natsStatus s = kvWatcher_Next(&e, w_, timeout.count());
  if (s == NATS_TIMEOUT) return Event{};
  if (s != NATS_OK) return natsError(s, "watch");
  if (e == nullptr) {
    if (js_ != nullptr) {
      if (auto st = switchToLiveConsumer(); !st) return st.error();
    }
    return Event{Event::Type::SnapshotComplete, {}};
  }
  Event ev{Event::Type::Entry, toEntry(e)};
  kvEntry_Destroy(e);
  lastRevision_ = std::max(lastRevision_, ev.entry.revision);
  return ev;
}

}  // namespace proxyos::store
