#include "controller/api/config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace sluice {
namespace {

using nlohmann::json;

// Aliases let a small text name a huge tree; the converted document is
// bounded instead (a config of 10000 rules has some 200000 nodes).
constexpr size_t kMaxNodes = 500000;
constexpr int kMaxDepth = 64;

bool AllOf(std::string_view text, size_t from, size_t to) {
  if (from >= to) return false;
  for (size_t i = from; i < to; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

bool IsNull(std::string_view t) {
  return t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL";
}

int BoolValue(std::string_view t) {  // 1 true, 0 false, -1 neither
  if (t == "true" || t == "True" || t == "TRUE") return 1;
  if (t == "false" || t == "False" || t == "FALSE") return 0;
  return -1;
}

bool IsInteger(std::string_view t) {
  size_t start = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
  return AllOf(t, start, t.size());
}

// [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool IsFloat(std::string_view t) {
  size_t i = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
  size_t digits = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
    ++i, ++digits;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
      ++i, ++digits;
    }
  }
  if (digits == 0) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
    return AllOf(t, i, t.size());
  }
  return i == t.size();
}

// A plain scalar under the core schema; special floats (.inf, .nan) and
// other bases (0x, 0o) stay text, which the rule checks then refuse.
json PlainScalar(const std::string& text) {
  if (IsNull(text)) return nullptr;
  if (int b = BoolValue(text); b >= 0) return b == 1;
  if (IsInteger(text)) {
    errno = 0;
    char* end = nullptr;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (errno == 0 && end == text.c_str() + text.size()) {
      return static_cast<int64_t>(value);
    }
    return text;  // out of range: the rule checks say what fits
  }
  if (IsFloat(text)) return std::strtod(text.c_str(), nullptr);
  return text;
}

struct Converter {
  size_t nodes = 0;
  YamlProblem problem;

  bool Fail(const YAML::Mark& mark, std::string message) {
    problem = {mark.line + 1, mark.column + 1, std::move(message)};
    return false;
  }

  bool Convert(const YAML::Node& node, int depth, json* out) {
    if (++nodes > kMaxNodes || depth > kMaxDepth) {
      return Fail(node.Mark(),
                  "the document is too large or too deeply nested once its "
                  "aliases are expanded; a config is a list of flat rules");
    }
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        *out = json::object();
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) {
            return Fail(entry.first.Mark(),
                        "a map key must be a plain name such as limit");
          }
          const std::string& key = entry.first.Scalar();
          if (out->contains(key)) {
            return Fail(entry.first.Mark(),
                        "the key '" + key +
                            "' appears twice in the same map; keep one");
          }
          if (!Convert(entry.second, depth + 1, &(*out)[key])) return false;
        }
        return true;
      }
      case YAML::NodeType::Sequence: {
        *out = json::array();
        for (const auto& item : node) {
          json value;
          if (!Convert(item, depth + 1, &value)) return false;
          out->push_back(std::move(value));
        }
        return true;
      }
      case YAML::NodeType::Scalar:
        // "?" is a plain scalar; "!" a quoted one; an explicit tag is kept
        // as text (only !!str is meaningful in a config).
        *out = node.Tag() == "?" ? PlainScalar(node.Scalar())
                                 : json(node.Scalar());
        return true;
      default:  // Null, Undefined
        *out = nullptr;
        return true;
    }
  }
};

// yaml-cpp says what it did not find; say what would be right too.
std::string Explain(const std::string& msg) {
  std::string hint;
  if (msg == "end of map not found") {
    hint =
        "expected another 'key: value' at the same indentation as the "
        "keys above, or less indentation to end the map";
  } else if (msg == "end of sequence not found") {
    hint =
        "expected another '- ' item at the same indentation, or less "
        "indentation to end the list";
  } else if (msg == "end of map flow not found") {
    hint = "expected ',' or '}' in a {...} map";
  } else if (msg == "end of sequence flow not found") {
    hint = "expected ',' or ']' in a [...] list";
  } else if (msg == "illegal map value") {
    hint =
        "a ':' cannot start a value here; expected a value on the same "
        "line as its key, or quote a value that contains ': '";
  } else if (msg.find("end of") != std::string::npos) {
    hint = "expected the closing quote or bracket";
  }
  return hint.empty() ? msg : msg + ": " + hint;
}

// Whether `text`, written plain, would read back as the string it is.
bool PlainReadsBack(const std::string& text) {
  return PlainScalar(text) == json(text);
}

void Emit(YAML::Emitter& out, const json& value);

void EmitEntry(YAML::Emitter& out, const std::string& key, const json& value) {
  out << YAML::Key;
  if (!PlainReadsBack(key)) out << YAML::DoubleQuoted;
  out << key << YAML::Value;
  Emit(out, value);
}

void Emit(YAML::Emitter& out, const json& value) {
  if (value.is_object()) {
    if (value.empty()) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    // A rule's name first, so each list item starts "- name: ...";
    // the other keys in the JSON document's (sorted) order.
    out << YAML::BeginMap;
    if (value.contains("name")) EmitEntry(out, "name", value["name"]);
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key() != "name") EmitEntry(out, it.key(), it.value());
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    if (value.empty()) {
      out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out << YAML::BeginSeq;
    for (const json& item : value) Emit(out, item);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (!PlainReadsBack(text)) out << YAML::DoubleQuoted;
    out << text;
  } else {
    // Numbers, booleans and null in their JSON spelling, which is also
    // their YAML core-schema spelling.
    out << value.dump();
  }
}

std::string MediaType(std::string_view text) {
  std::string type;
  for (char c : text.substr(0, text.find(';'))) {
    if (c != ' ' && c != '\t') {
      type += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return type;
}

bool IsYamlType(const std::string& type) {
  return type == "application/yaml" || type == "application/x-yaml" ||
         type == "text/yaml";
}

double Quality(std::string_view range) {
  size_t q = range.find("q=");
  if (q == std::string_view::npos) return 1.0;
  return std::strtod(std::string(range.substr(q + 2)).c_str(), nullptr);
}

}  // namespace

bool ParseConfigYaml(const std::string& text, json* out, YamlProblem* problem) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    *problem = {e.mark.line + 1, e.mark.column + 1, Explain(e.msg)};
    return false;
  } catch (const YAML::Exception& e) {
    *problem = {e.mark.line + 1, e.mark.column + 1, e.msg};
    return false;
  }
  Converter converter;
  if (!converter.Convert(root, 0, out)) {
    *problem = converter.problem;
    return false;
  }
  return true;
}

std::string ConfigYaml(const json& doc) {
  YAML::Emitter out;
  out.SetIndent(2);
  Emit(out, doc);
  return std::string(out.c_str()) + "\n";
}

bool AcceptsYamlFirst(const std::string& accept) {
  double yaml = 0, json_q = 0;
  bool yaml_first = false, seen = false;
  size_t start = 0;
  while (start <= accept.size()) {
    size_t end = accept.find(',', start);
    if (end == std::string::npos) end = accept.size();
    std::string_view range(accept.data() + start, end - start);
    std::string type = MediaType(range);
    double q = Quality(range);
    if (IsYamlType(type) && q > yaml) {
      if (!seen) yaml_first = true;
      yaml = q;
      seen = true;
    } else if (type == "application/json" && q > json_q) {
      json_q = q;
      seen = true;
    }
    start = end + 1;
  }
  return yaml > 0 && (yaml > json_q || (yaml == json_q && yaml_first));
}

bool IsYamlContentType(const std::string& content_type) {
  return IsYamlType(MediaType(content_type));
}

}  // namespace sluice
