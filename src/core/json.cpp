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
  fields_.push_back(std::move(f));
}

void JsonSummary::add(const std::string& key, double value) {
  Field f;
  f.key = key;
  f.kind = Kind::number;
  f.number = value;
  fields_.push_back(std::move(f));
}

void JsonSummary::add(const std::string& key, std::int64_t value) {
  Field f;
  f.key = key;
  f.kind = Kind::integer;
  f.integer = value;
  fields_.push_back(std::move(f));
}

void JsonSummary::add(const std::string& key, bool value) {
  Field f;
  f.key = key;
  f.kind = Kind::boolean;
  f.boolean = value;
  fields_.push_back(std::move(f));
}

void JsonSummary::add(const std::string& key, const std::vector<double>& values) {
  Field f;
  f.key = key;
  f.kind = Kind::array;
  f.values = values;
  fields_.push_back(std::move(f));
}

namespace {

std::string json_value(const JsonSummary::Field& f) {
  switch (f.kind) {
    case JsonSummary::Kind::string: return json_string(f.text);
    case JsonSummary::Kind::number: return json_number(f.number);
    case JsonSummary::Kind::integer: return std::to_string(f.integer);
    case JsonSummary::Kind::boolean: return f.boolean ? "true" : "false";
    case JsonSummary::Kind::array: break;
  }
  std::string s = "[";
  for (std::size_t i = 0; i < f.values.size(); ++i) s += (i ? ", " : "") + json_number(f.values[i]);
  return s + "]";
}

}  // namespace

std::string JsonSummary::str() const {
  std::string s = "{";
  for (std::size_t i = 0; i < fields_.size(); ++i)
    s += (i ? ", " : "") + json_string(fields_[i].key) + ": " + json_value(fields_[i]);
  return s + "}";
}

}  // namespace zeta
