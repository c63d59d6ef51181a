#include "common/wire_lease_codec.h"

#include <charconv>
#include <cstdint>
#include <limits>

#include "common/text_util.h"

namespace sluice {
namespace wire_internal {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// --- Encoding ---

void AppendInt(int64_t value, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, static_cast<size_t>(res.ptr - buf));
}

void AppendUint(uint64_t value, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, static_cast<size_t>(res.ptr - buf));
}

// A JSON string of valid UTF-8 `text`, escaped as nlohmann's dump does with
// ensure_ascii off.
void AppendJsonString(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t plain = 0;  // start of the run of bytes copied as they are
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"", 2);
        break;
      case '\\':
        out->append("\\\\", 2);
        break;
      case '\b':
        out->append("\\b", 2);
        break;
      case '\f':
        out->append("\\f", 2);
        break;
      case '\n':
        out->append("\\n", 2);
        break;
      case '\r':
        out->append("\\r", 2);
        break;
      case '\t':
        out->append("\\t", 2);
        break;
      default: {
        const char escaped[6] = {'\\', 'u',          '0',
                                 '0',  kHex[c >> 4], kHex[c & 0xf]};
        out->append(escaped, 6);
      }
    }
  }
  out->append(text.data() + plain, text.size() - plain);
  out->push_back('"');
}

// A wildcard value: a string when valid UTF-8, else {"hex":"..."}.
void AppendValue(const std::string& value, std::string* out) {
  if (text::IsValidUtf8(value)) {
    AppendJsonString(value, out);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("{\"hex\":\"");
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    out->push_back(kHex[u >> 4]);
    out->push_back(kHex[u & 0xf]);
  }
  out->append("\"}");
}

void AppendValues(const std::vector<std::string>& values, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendValue(values[i], out);
  }
  out->push_back(']');
}

// --- Decoding (fast path) ---

// A cursor over the bytes; every method returns false when the input is not
// in the shape the fast path handles.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : s_(bytes) {}

  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' ||
                              s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  // Skips space, then consumes `c`.
  bool Consume(char c) {
    SkipSpace();
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  // Skips space; true (and consumes it) when the next byte is `c`.
  bool Peek(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // A string of printable ASCII without escapes, as a view.
  bool PlainString(std::string_view* out) {
    if (!Consume('"')) return false;
    const size_t start = i_;
    for (; i_ < s_.size(); ++i_) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        *out = s_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c < 0x20 || c >= 0x80 || c == '\\') return false;
    }
    return false;
  }
  // A non-negative integer, plain decimal (JSON: no leading zeros), at most
  // `max`, not followed by a fraction or an exponent.
  bool Unsigned(uint64_t max, uint64_t* out) {
    SkipSpace();
    const size_t start = i_;
    uint64_t value = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      const uint64_t digit = static_cast<uint64_t>(s_[i_] - '0');
      if (value > (max - digit) / 10) return false;
      value = value * 10 + digit;
      ++i_;
    }
    const size_t digits = i_ - start;
    if (digits == 0 || (digits > 1 && s_[start] == '0')) return false;
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
      return false;
    }
    *out = value;
    return true;
  }
  bool Int(int64_t min, int64_t* out) {
    uint64_t value = 0;
    if (!Unsigned(static_cast<uint64_t>(kInt64Max), &value)) return false;
    if (static_cast<int64_t>(value) < min) return false;
    *out = static_cast<int64_t>(value);
    return true;
  }
  // ["v1","v2",...] of plain strings.
  bool Values(std::vector<std::string>* out) {
    out->clear();
    if (!Consume('[')) return false;
    if (Peek(']')) return true;
    do {
      std::string_view value;
      if (!PlainString(&value)) return false;
      out->emplace_back(value);
    } while (Peek(','));
    return Consume(']');
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == s_.size();
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// One integer field of an item: its key, its least valid value, where it
// goes.
struct IntField {
  std::string_view key;
  int64_t min;
  int64_t* out;
};

// Reads one item object: "values" plus the integer `fields`, in any order,
// each exactly once. Anything else (an unknown key, a repeat, a missing
// field) is false, and the caller falls back to the general decoder.
template <size_t N>
bool ReadItem(Reader* r, std::vector<std::string>* values,
              const IntField (&fields)[N]) {
  static_assert(N < 31, "one bit per field");
  if (!r->Consume('{')) return false;
  const unsigned all = (2u << N) - 1;  // bit 0: values; bit i+1: fields[i]
  unsigned seen = 0;
  do {
    std::string_view key;
    if (!r->PlainString(&key) || !r->Consume(':')) return false;
    unsigned bit = 0;
    bool ok = false;
    if (key == "values") {
      bit = 1;
      ok = r->Values(values);
    } else {
      for (size_t i = 0; i < N; ++i) {
        if (key == fields[i].key) {
          bit = 2u << i;
          ok = r->Int(fields[i].min, fields[i].out);
          break;
        }
      }
    }
    if (!ok || (seen & bit) != 0) return false;
    seen |= bit;
  } while (r->Peek(','));
  return r->Consume('}') && seen == all;
}

bool ReadRequestItem(Reader* r, LeaseWant* w) {
  const IntField fields[] = {{"rule_id", 1, &w->rule_id},
                             {"want", 0, &w->want},
                             {"admitted", 0, &w->admitted},
                             {"refused", 0, &w->refused},
                             {"unleased", 0, &w->unleased}};
  return ReadItem(r, &w->values, fields);
}

bool ReadGrantItem(Reader* r, LeaseGrantItem* g) {
  const IntField fields[] = {{"rule_id", 1, &g->rule_id},
                             {"tokens", 0, &g->tokens},
                             {"ttl_ms", 0, &g->ttl_ms}};
  return ReadItem(r, &g->values, fields);
}

// {"items":[...],"seq":N,"type":"<type>"}, keys in any order.
template <typename Item, typename ReadItem>
bool ReadMessage(std::string_view bytes, std::string_view type, uint64_t* seq,
                 std::vector<Item>* items, ReadItem read_item) {
  Reader r(bytes);
  if (!r.Consume('{')) return false;
  bool have_items = false;
  bool have_seq = false;
  bool have_type = false;
  do {
    std::string_view key;
    if (!r.PlainString(&key) || !r.Consume(':')) return false;
    if (key == "items" && !have_items) {
      have_items = true;
      items->clear();
      // An item takes 70 bytes or more: no regrowth for the usual message.
      items->reserve(bytes.size() / 64);
      if (!r.Consume('[')) return false;
      if (!r.Peek(']')) {
        do {
          if (!read_item(&r, &items->emplace_back())) return false;
        } while (r.Peek(','));
        if (!r.Consume(']')) return false;
      }
    } else if (key == "seq" && !have_seq) {
      have_seq = true;
      if (!r.Unsigned(std::numeric_limits<uint64_t>::max(), seq)) {
        return false;
      }
    } else if (key == "type" && !have_type) {
      have_type = true;
      std::string_view value;
      if (!r.PlainString(&value) || value != type) return false;
    } else {
      return false;
    }
  } while (r.Peek(','));
  return r.Consume('}') && r.AtEnd() && have_items && have_seq && have_type;
}

}  // namespace

void AppendLeaseRequestJson(const LeaseRequest& m, std::string* out) {
  out->append("{\"items\":[");
  for (size_t i = 0; i < m.items.size(); ++i) {
    const LeaseWant& w = m.items[i];
    out->append(i == 0 ? "{\"admitted\":" : ",{\"admitted\":");
    AppendInt(w.admitted, out);
    out->append(",\"refused\":");
    AppendInt(w.refused, out);
    out->append(",\"rule_id\":");
    AppendInt(w.rule_id, out);
    out->append(",\"unleased\":");
    AppendInt(w.unleased, out);
    out->append(",\"values\":");
    AppendValues(w.values, out);
    out->append(",\"want\":");
    AppendInt(w.want, out);
    out->push_back('}');
  }
  out->append("],\"seq\":");
  AppendUint(m.seq, out);
  out->append(",\"type\":\"lease_request\"}");
}

void AppendLeaseGrantJson(const LeaseGrant& m, std::string* out) {
  out->append("{\"items\":[");
  for (size_t i = 0; i < m.items.size(); ++i) {
    const LeaseGrantItem& g = m.items[i];
    out->append(i == 0 ? "{\"rule_id\":" : ",{\"rule_id\":");
    AppendInt(g.rule_id, out);
    out->append(",\"tokens\":");
    AppendInt(g.tokens, out);
    out->append(",\"ttl_ms\":");
    AppendInt(g.ttl_ms, out);
    out->append(",\"values\":");
    AppendValues(g.values, out);
    out->push_back('}');
  }
  out->append("],\"seq\":");
  AppendUint(m.seq, out);
  out->append(",\"type\":\"lease_grant\"}");
}

bool FastDecodeLeaseRequest(std::string_view bytes, LeaseRequest* out) {
  return ReadMessage(bytes, "lease_request", &out->seq, &out->items,
                     ReadRequestItem);
}

bool FastDecodeLeaseGrant(std::string_view bytes, LeaseGrant* out) {
  return ReadMessage(bytes, "lease_grant", &out->seq, &out->items,
                     ReadGrantItem);
}

}  // namespace wire_internal
}  // namespace sluice
