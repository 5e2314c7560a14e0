// Known-answer tests against published vectors (RFC 4231, RFC 7914, FIPS 180-2,
// RFC 4648), plus the properties the session and password code relies on.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "shared/crypto/base64url.h"
#include "shared/crypto/constant_time.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/hmac.h"
#include "shared/crypto/random.h"
#include "shared/crypto/scrypt.h"
#include "shared/crypto/sha256.h"

namespace proxyos::crypto {
namespace {

std::string unhex(std::string_view hex) {
  auto bytes = hexDecode(hex);
  if (!bytes) throw std::invalid_argument("bad hex in test vector");
  return *bytes;
}

// ---- SHA-256 (FIPS 180-2, appendix B) ----

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, RawIs32BytesMatchingHex) {
  const std::string raw = sha256("abc");
  ASSERT_EQ(raw.size(), 32u);
  EXPECT_EQ(hexEncode(raw), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// ---- HMAC-SHA256 (RFC 4231 §4) ----

TEST(HmacSha256, Rfc4231Case1) {
  EXPECT_EQ(hexEncode(hmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256, Rfc4231Case2KeyShorterThanOutput) {
  EXPECT_EQ(hexEncode(hmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256, Rfc4231Case3) {
  EXPECT_EQ(hexEncode(hmacSha256(std::string(20, '\xaa'), std::string(50, '\xdd'))),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

TEST(HmacSha256, Rfc4231Case4) {
  EXPECT_EQ(hexEncode(hmacSha256(unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'))),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
}

TEST(HmacSha256, Rfc4231Case5Truncated128) {
  const std::string mac = hmacSha256(std::string(20, '\x0c'), "Test With Truncation");
  ASSERT_EQ(mac.size(), 32u);
  EXPECT_EQ(hexEncode(mac.substr(0, 16)), "a3b6167473100ee06e0c796c2955552b");
}

TEST(HmacSha256, Rfc4231Case6KeyLargerThanBlock) {
  EXPECT_EQ(hexEncode(hmacSha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, Rfc4231Case7KeyAndDataLargerThanBlock) {
  EXPECT_EQ(hexEncode(hmacSha256(std::string(131, '\xaa'),
                                 "This is a test using a larger than block-size key and a larger than block-size "
                                 "data. The key needs to be hashed before being used by the HMAC algorithm.")),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(HmacSha256, EmptyKeyAndData) {
  // Value from Python's hmac module; guards the empty-key path (null pointer).
  EXPECT_EQ(hexEncode(hmacSha256(std::string_view{}, std::string_view{})),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// ---- scrypt (RFC 7914 §12) ----

TEST(Scrypt, Rfc7914EmptyPasswordAndSalt) {
  auto key = scrypt("", "", {16, 1, 1}, 64);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(hexEncode(key.value()),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
            "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
}

TEST(Scrypt, Rfc7914PasswordNaCl) {
  auto key = scrypt("password", "NaCl", {1024, 8, 16}, 64);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(hexEncode(key.value()),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
            "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

TEST(Scrypt, Rfc7914SodiumChloride16384) {
  auto key = scrypt("pleaseletmein", "SodiumChloride", {16384, 8, 1}, 64);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(hexEncode(key.value()),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
            "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}

// N = 2^20 needs 1 GiB, far above OpenSSL's default 32 MiB cap, so this also
// proves scrypt() raises maxmem. About 5 s on the 2-core build machine.
TEST(Scrypt, Rfc7914SodiumChloride1048576) {
  auto key = scrypt("pleaseletmein", "SodiumChloride", {1048576, 8, 1}, 64);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(hexEncode(key.value()),
            "2101cb9b6a511aaeaddbbe09cf70f881ec568d574a2ffd4dabe5ee9820adaa47"
            "8e56fd8f4ba5d09ffa1c6d927c40f4c337304049e8a952fbcbf45c6fa77a41a4");
}

TEST(Scrypt, RejectsInvalidParams) {
  for (const ScryptParams& bad : {ScryptParams{0, 8, 1}, ScryptParams{1, 8, 1}, ScryptParams{1000, 8, 1},
                                  ScryptParams{1024, 0, 1}, ScryptParams{1024, 8, 0},
                                  ScryptParams{uint64_t{1} << 16, 1, 1}}) {
    auto key = scrypt("pw", "salt", bad, 32);
    ASSERT_FALSE(key.ok()) << "N=" << bad.N << " r=" << bad.r << " p=" << bad.p;
    EXPECT_EQ(key.error().code, "invalid_scrypt_params");
    EXPECT_EQ(key.error().kind, ErrorKind::Invalid);
  }
  EXPECT_FALSE(scrypt("pw", "salt", {1024, 8, 1}, 0).ok());
}

// ---- base64url (RFC 4648 §10, URL alphabet, unpadded) ----

TEST(Base64Url, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},          {"f", "Zg"},         {"fo", "Zm8"},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64UrlEncode(plain), encoded) << plain;
    EXPECT_EQ(base64UrlDecode(encoded), plain) << encoded;
  }
}

TEST(Base64Url, AcceptsPadding) {
  EXPECT_EQ(base64UrlDecode("Zg=="), "f");
  EXPECT_EQ(base64UrlDecode("Zm8="), "fo");
  EXPECT_EQ(base64UrlDecode("Zm9vYg=="), "foob");
}

TEST(Base64Url, UsesDashAndUnderscore) {
  // Standard base64 would give "+/8=", "++++" and "////".
  EXPECT_EQ(base64UrlEncode(unhex("fbff")), "-_8");
  EXPECT_EQ(base64UrlEncode(unhex("fbefbe")), "----");
  EXPECT_EQ(base64UrlEncode(unhex("ffffff")), "____");
  EXPECT_EQ(base64UrlDecode("-_8"), unhex("fbff"));
  EXPECT_EQ(base64UrlDecode("----"), unhex("fbefbe"));
  EXPECT_EQ(base64UrlDecode("____"), unhex("ffffff"));
}

TEST(Base64Url, RoundTripsRandomDataOfEveryLength) {
  for (size_t n = 0; n <= 64; ++n) {
    const std::string data = randomBytes(n);
    const std::string encoded = base64UrlEncode(data);
    EXPECT_EQ(encoded.size(), (n * 4 + 2) / 3) << n;
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos) << encoded;
    EXPECT_EQ(base64UrlDecode(encoded), data) << n;
  }
}

TEST(Base64Url, RejectsInvalidInput) {
  for (const char* bad : {"+/8", "Zm9v+A", "Zm9v/A", "Zm9 v", "Zm9v\n", " Zm9v", "\tZg", "Z", "A", "Zm9vY", "Zm9vA", "Zm9vYmFyZ",
                          "Zg=", "Zg===", "Z===", "====", "=", "Zm9v=", "Zm=9", "Zg==Zg==", "Zm9v\x80", "Zm.v"}) {
    EXPECT_EQ(base64UrlDecode(bad), std::nullopt) << '"' << bad << '"';
  }
  EXPECT_EQ(base64UrlDecode(std::string_view("Zm\0v", 4)), std::nullopt);
}

TEST(Base64Url, RejectsNonZeroTrailingBits) {
  // "Zg" is the only spelling of "f"; "Zh" has a stray bit in the unused tail.
  EXPECT_EQ(base64UrlDecode("Zh"), std::nullopt);
  EXPECT_EQ(base64UrlDecode("Zm9"), std::nullopt);
  EXPECT_EQ(base64UrlDecode("Zh=="), std::nullopt);
}

// ---- hex ----

TEST(Hex, EncodesLowerCaseAndRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  const std::string hex = hexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(504), "fcfdfeff");
  EXPECT_EQ(hexDecode(hex), all);
  EXPECT_EQ(hexEncode(""), "");
}

TEST(Hex, DecodesUpperCaseAndRejectsBadInput) {
  EXPECT_EQ(hexDecode("DEADbeef"), unhex("deadbeef"));
  EXPECT_EQ(hexDecode(""), "");
  EXPECT_EQ(hexDecode("abc"), std::nullopt);
  EXPECT_EQ(hexDecode("zz"), std::nullopt);
  EXPECT_EQ(hexDecode("0g"), std::nullopt);
  EXPECT_EQ(hexDecode(" 0"), std::nullopt);
}

// ---- constant-time comparison ----

TEST(ConstantTimeEquals, Cases) {
  EXPECT_TRUE(constantTimeEquals("secret-mac", "secret-mac"));
  EXPECT_FALSE(constantTimeEquals("secret-mac", "secret-maC"));
  EXPECT_FALSE(constantTimeEquals("Xecret-mac", "secret-mac"));
  EXPECT_FALSE(constantTimeEquals("secret", "secret-mac"));
  EXPECT_FALSE(constantTimeEquals("secret-mac", "secret"));
  EXPECT_FALSE(constantTimeEquals("", "x"));
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals(std::string_view{}, ""));
  EXPECT_TRUE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

// ---- password hashing ----

constexpr ScryptParams kFast{1024, 8, 1};

TEST(Password, HashHasDocumentedShape) {
  const std::string h = hashPassword("hunter2", kFast);
  ASSERT_EQ(h.rfind("scrypt$1024$8$1$", 0), 0u) << h;
  const std::string tail = h.substr(std::string("scrypt$1024$8$1$").size());
  const size_t dollar = tail.find('$');
  ASSERT_NE(dollar, std::string::npos);
  EXPECT_EQ(base64UrlDecode(tail.substr(0, dollar)).value_or("").size(), 16u);
  EXPECT_EQ(base64UrlDecode(tail.substr(dollar + 1)).value_or("").size(), 32u);
}

TEST(Password, VerifiesRightAndRejectsWrong) {
  const std::string h = hashPassword("correct horse battery staple", kFast);
  EXPECT_TRUE(verifyPassword("correct horse battery staple", h));
  EXPECT_FALSE(verifyPassword("correct horse battery stapl", h));
  EXPECT_FALSE(verifyPassword("Correct horse battery staple", h));
  EXPECT_FALSE(verifyPassword("", h));
}

TEST(Password, EmptyPasswordRoundTrips) {
  const std::string h = hashPassword("", kFast);
  EXPECT_TRUE(verifyPassword("", h));
  EXPECT_FALSE(verifyPassword(" ", h));
}

TEST(Password, SaltMakesHashesDiffer) {
  const std::string a = hashPassword("same", kFast);
  const std::string b = hashPassword("same", kFast);
  EXPECT_NE(a, b);
  EXPECT_TRUE(verifyPassword("same", a));
  EXPECT_TRUE(verifyPassword("same", b));
}

TEST(Password, VerifiesKnownHash) {
  // Assembled from the RFC 7914 vector rather than by hashPassword(): scrypt
  // output is a prefix-stable PBKDF2 stream, so its first 32 bytes are the key.
  const std::string key = unhex("7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2");
  const std::string encoded = "scrypt$16384$8$1$" + base64UrlEncode("SodiumChloride") + "$" + base64UrlEncode(key);
  EXPECT_TRUE(verifyPassword("pleaseletmein", encoded));
  EXPECT_FALSE(verifyPassword("pleaseletmeiN", encoded));
}

// A hash whose key really matches `password`, built with scrypt() directly so
// that verifyPassword() can only say false by refusing the format or params.
std::string correctHash(std::string_view password, std::string_view salt, const ScryptParams& params,
                        std::string_view n = {}) {
  auto key = scrypt(password, salt, params, 32);
  if (!key.ok()) throw std::runtime_error(key.error().message);
  return "scrypt$" + (n.empty() ? std::to_string(params.N) : std::string(n)) + "$" + std::to_string(params.r) +
         "$" + std::to_string(params.p) + "$" + base64UrlEncode(salt) + "$" + base64UrlEncode(key.value());
}

TEST(Password, MalformedIsFalse) {
  const std::string salt = "sixteen-byte-slt";
  const std::string good = correctHash("pw", salt, kFast);
  ASSERT_TRUE(verifyPassword("pw", good));
  const std::string rest = good.substr(good.find('$'));  // "$1024$8$1$salt$key"
  const std::string saltB64 = base64UrlEncode(salt);
  const std::string keyB64 = good.substr(good.rfind('$') + 1);
  const std::string key16B64 = base64UrlEncode(base64UrlDecode(keyB64).value().substr(0, 16));

  // Each is the correct hash with one flaw, so a lax parser would answer true.
  const std::string cases[] = {
      "",
      "scrypt",
      "bcrypt" + rest,                                                  // wrong prefix
      "SCRYPT" + rest,                                                  // prefix is case-sensitive
      "$" + good,                                                       // leading separator
      good + "$",                                                       // extra empty field
      good + "$x",                                                      // extra field
      "scrypt$1024$8$1$" + saltB64 + "$" + keyB64 + ".",                // bad base64 in key
      "scrypt$1024$8$1$" + saltB64 + "*$" + keyB64,                     // bad base64 in salt
      "scrypt$1024$8$1$" + saltB64 + "$ " + keyB64,                     // whitespace in key
      "scrypt$1024$8$1$" + saltB64 + "$" + key16B64,                    // key shorter than 32 bytes
      correctHash("pw", "", kFast),                                     // empty salt
      correctHash("pw", salt, kFast, "+1024"),                          // signed number
      correctHash("pw", salt, kFast, "1024 "),                          // trailing space
      correctHash("pw", salt, kFast, " 1024"),                          // leading space
      correctHash("pw", salt, kFast, "0x400"),                          // hex number
      correctHash("pw", salt, kFast, "18446744073709552640"),           // 2^64 + 1024 wraps to 1024
      "scrypt$-1024$8$1$" + saltB64 + "$" + keyB64,
      "scrypt$$8$1$" + saltB64 + "$" + keyB64,
      "scrypt$1000$8$1$" + saltB64 + "$" + keyB64,                      // N not a power of two
      "scrypt$0$8$1$" + saltB64 + "$" + keyB64,
      "scrypt$1024$0$1$" + saltB64 + "$" + keyB64,
      "scrypt$1024$8$0$" + saltB64 + "$" + keyB64,
  };
  for (const auto& bad : cases) EXPECT_FALSE(verifyPassword("pw", bad)) << bad;
}

TEST(Password, RefusesCostlyParamsEvenWithCorrectKey) {
  const std::string salt = "sixteen-byte-slt";
  // The bounds themselves are accepted...
  EXPECT_TRUE(verifyPassword("pw", correctHash("pw", salt, {2, 1, 64})));
  EXPECT_TRUE(verifyPassword("pw", correctHash("pw", salt, {2, 64, 1})));
  // ...one step past them is not: r*p > 64 (cheap to build with N = 2).
  EXPECT_FALSE(verifyPassword("pw", correctHash("pw", salt, {2, 1, 65})));
  EXPECT_FALSE(verifyPassword("pw", correctHash("pw", salt, {2, 65, 1})));
  EXPECT_FALSE(verifyPassword("pw", correctHash("pw", salt, {2, 9, 8})));
  // N = 2^21 > 2^20 (r = 2, the least scrypt allows for this N: 512 MiB, ~2 s to build).
  EXPECT_FALSE(verifyPassword("pw", correctHash("pw", salt, {uint64_t{1} << 21, 2, 1})));
  // Not exercised: the 1 GiB memory cap (e.g. N = 2^20, r = 9) — a correct
  // hash for it costs ~6 s to build here.
}

TEST(Password, HashPasswordRejectsInvalidParams) {
  EXPECT_THROW(hashPassword("pw", ScryptParams{1000, 8, 1}), std::invalid_argument);
}

// ---- random ----

TEST(Random, BytesHaveRequestedLength) {
  EXPECT_EQ(randomBytes(0).size(), 0u);
  EXPECT_EQ(randomBytes(1).size(), 1u);
  EXPECT_EQ(randomBytes(1000).size(), 1000u);
  EXPECT_NE(randomBytes(32), randomBytes(32));
}

TEST(Random, TokenIsUrlSafeAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string token = randomToken();
    ASSERT_EQ(token.size(), 43u) << token;
    EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos)
        << token;
    EXPECT_EQ(base64UrlDecode(token).value_or("").size(), 32u);
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(randomToken(16).size(), 22u);
}

}  // namespace
}  // namespace proxyos::crypto
