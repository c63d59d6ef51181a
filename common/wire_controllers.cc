#include "common/wire_controllers.h"

#include <string>

#include "common/wire_fields.h"

namespace sluice::wire_internal {

json EncodeControllers(const Controllers& m) {
  json members = json::array();
  for (const ControllerMember& member : m.set.members) {
    members.push_back({{"id", member.id}, {"endpoint", member.endpoint}});
  }
  return {{"type", "controllers"},
          {"version", m.set.version},
          {"members", std::move(members)},
          {"self_id", m.self_id}};
}

StatusOr<WireMessage> DecodeControllers(const json& j) {
  const Fields f(j, "controllers");
  Controllers m;
  const json* members = nullptr;
  Status st = f.Int("version", 0, kInt64Max, &m.set.version);
  if (st.ok()) st = f.Str("self_id", &m.self_id);
  if (st.ok()) st = f.Array("members", &members);
  if (!st.ok()) return st;
  for (size_t i = 0; i < members->size(); ++i) {
    const json& item = (*members)[i];
    const std::string where = "controllers.members[" + std::to_string(i) + "]";
    if (!item.is_object()) {
      return Status::InvalidArgument(where +
                                     " must be an object with \"id\" "
                                     "and \"endpoint\" strings");
    }
    const Fields member(item, where);
    ControllerMember out;
    st = member.Str("id", &out.id);
    if (st.ok()) st = member.Str("endpoint", &out.endpoint);
    if (!st.ok()) return st;
    m.set.members.push_back(std::move(out));
  }
  st = ValidateControllerSet(m.set);
  if (!st.ok()) return st;
  return WireMessage(std::move(m));
}

}  // namespace sluice::wire_internal
