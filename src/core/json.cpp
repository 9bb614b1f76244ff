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

void JsonSummary::add(const std::string& key, const std::string& value) {
  Field f;
  f.key = key;
  f.kind = Kind::string;
  f.text = value;
  f.json = json_string(value);
  fields_.push_back(std::move(f));
}

void JsonSummary::add(const std::string& key, double value) {
  Field f;
  f.key = key;
  f.kind = Kind::number;
  f.number = value;
  f.json = json_number(value);
  fields_.push_back(std::move(f));
}

void JsonSummary::add(const std::string& key, std::int64_t value) {
  Field f;
  f.key = key;
  f.kind = Kind::integer;
  f.integer = value;
  f.json = std::to_string(value);
  fields_.push_back(std::move(f));
}

void JsonSummary::add(const std::string& key, bool value) {
  Field f;
  f.key = key;
  f.kind = Kind::boolean;
  f.boolean = value;
  f.json = value ? "true" : "false";
  fields_.push_back(std::move(f));
}

void JsonSummary::add(const std::string& key, const std::vector<double>& values) {
  Field f;
  f.key = key;
  f.kind = Kind::array;
  f.values = values;
  f.json = "[";
  for (std::size_t i = 0; i < values.size(); ++i) f.json += (i ? ", " : "") + json_number(values[i]);
  f.json += "]";
  fields_.push_back(std::move(f));
}

std::string JsonSummary::str() const {
  std::string s = "{";
  for (std::size_t i = 0; i < fields_.size(); ++i)
    s += (i ? ", " : "") + json_string(fields_[i].key) + ": " + fields_[i].json;
  return s + "}";
}

}  // namespace zeta
