#include "zeta/core/json.hpp"

#include <cmath>
#include <cstdio>

namespace zeta {

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void JsonSummary::add(const std::string& key, const std::string& value) { items_.emplace_back(key, json_string(value)); }

void JsonSummary::add(const std::string& key, double value) { items_.emplace_back(key, json_number(value)); }

void JsonSummary::add(const std::string& key, std::int64_t value) { items_.emplace_back(key, std::to_string(value)); }

void JsonSummary::add(const std::string& key, bool value) { items_.emplace_back(key, value ? "true" : "false"); }

void JsonSummary::add(const std::string& key, const std::vector<double>& values) {
  std::string s = "[";
  for (std::size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + json_number(values[i]);
  items_.emplace_back(key, s + "]");
}

std::string JsonSummary::str() const {
  std::string s = "{";
  for (std::size_t i = 0; i < items_.size(); ++i)
    s += (i ? ", " : "") + json_string(items_[i].first) + ": " + items_[i].second;
  return s + "}";
}

}  // namespace zeta
