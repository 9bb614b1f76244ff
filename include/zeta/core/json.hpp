//! The one-line JSON summary every command prints on stdout.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zeta {

//! An ordered JSON object of scalars and numeric arrays; numbers keep full
//! precision (%.17g) so runs can be compared byte for byte. The typed fields stay
//! available (fields()) so the same figures can go into the HDF5 output
//! (io::OutputFile::write_summary).
class JsonSummary {
 public:
  enum class Kind { string, number, integer, boolean, array };
  struct Field {
    std::string key;
    Kind kind = Kind::string;
    std::string text;            //!< Kind::string
    double number = 0;           //!< Kind::number
    std::int64_t integer = 0;    //!< Kind::integer
    bool boolean = false;        //!< Kind::boolean
    std::vector<double> values;  //!< Kind::array
  };

  void add(const std::string& key, const std::string& value);
  void add(const std::string& key, const char* value) { add(key, std::string(value)); }
  void add(const std::string& key, double value);
  void add(const std::string& key, std::int64_t value);
  void add(const std::string& key, int value) { add(key, static_cast<std::int64_t>(value)); }
  void add(const std::string& key, bool value);
  void add(const std::string& key, const std::vector<double>& values);
  //! Adds `other`'s fields after these, kinds kept.
  void append(const JsonSummary& other) { fields_.insert(fields_.end(), other.fields_.begin(), other.fields_.end()); }
  std::string str() const;
  const std::vector<Field>& fields() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

std::string json_number(double v);
std::string json_string(const std::string& s);

}  // namespace zeta
