#include "controller/import/yaml_json.h"

namespace sluice {

nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) {
        object[entry.first.Scalar()] = YamlToJson(entry.second);
      }
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(YamlToJson(item));
      return array;
    }
    case YAML::NodeType::Scalar:
      return node.Scalar();
    default:  // Null, Undefined
      return nullptr;
  }
}

StatusOr<nlohmann::json> LoadYamlFileAsJson(const std::string& path) {
  try {
    return YamlToJson(YAML::LoadFile(path));
  } catch (const YAML::BadFile&) {
    return Status::InvalidArgument("cannot read " + path +
                                   ": no such file, or not readable");
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(
        path + ":" + std::to_string(e.mark.line + 1) + ":" +
        std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
}

}  // namespace sluice
