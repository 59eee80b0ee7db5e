// Canonical architecture text (SPEC §3): strict parser and printer. The parser names the
// column and what it expected and never repairs input; it does not build networks.
#include "esm/arch.hpp"

#include <cctype>
#include <cstdio>
#include <string_view>

#include "esm/common.hpp"

namespace esm {

int Arch::depth() const {
    int d = 0;
    for (const auto& u : units) d += static_cast<int>(u.size());
    return d;
}

bool operator==(const Arch& a, const Arch& b) { return a.res == b.res && a.units == b.units; }

double choice_value(const Space& space, const BlockChoice& b, int choice) {
    return space.choices[choice].values[b[choice]];
}

std::string arch_space_name(const std::string& text) {
    auto colon = text.find(':');
    return colon == std::string::npos ? std::string() : text.substr(0, colon);
}

namespace {

std::string shown(std::string_view t, size_t pos) {
    if (pos >= t.size()) return "end of text";
    unsigned char c = static_cast<unsigned char>(t[pos]);
    char buf[16];
    if (std::isprint(c)) std::snprintf(buf, sizeof buf, "'%c'", c);
    else std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
}

// ASCII digits only (std::isdigit asks the locale, a call per byte).
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// a == b, inline: labels are a few bytes, where a call to memcmp per label dominated parsing.
bool same_text(const std::string& a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < b.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

std::string one_of(const std::vector<std::string>& labels) {
    std::string s;
    for (size_t i = 0; i < labels.size(); ++i) s += (i ? (i + 1 == labels.size() ? " or " : ", ") : "") + labels[i];
    return s;
}

class ArchParser {
public:
    ArchParser(const Space& s, std::string_view t) : s_(s), t_(t) {}

    // Into a, reusing its vectors' capacity (a's old contents are replaced; on an error it
    // holds a partial parse).
    void parse(Arch& a) {
        const size_t max_len = max_arch_text_length(s_);
        if (t_.empty()) fail(0, "empty architecture text; expected '" + s_.name + ":...'");
        const auto prefix = [&] {
            std::string m = "the space prefix '" + s_.name + ":'";
            const size_t colon = t_.find(':');  // another space's architecture names its space
            const std::string_view other = t_.substr(0, colon == std::string_view::npos ? 0 : colon);
            bool name_like = !other.empty() && other.size() <= 64 && other != s_.name;
            for (char c : other) name_like = name_like && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
            if (name_like) m += " (the text is an architecture of space '" + std::string(other) + "')";
            return m;
        };
        expect_literal(s_.name, prefix);  // first: another space's text says so, however long
        expect_char(':', prefix);
        if (t_.size() > max_len)
            fail(max_len, "text is " + std::to_string(t_.size()) + " bytes, longer than the longest " + s_.name +
                              " architecture (" + std::to_string(max_len) + ")");
        a.units.resize(s_.units.size());
        for (auto& u : a.units) u.clear();
        for (size_t u = 0; u < s_.units.size(); ++u) {
            if (u > 0) expect_char('/', [&] { return "'/' before unit " + std::to_string(u); });
            if (s_.per_unit_choices) parse_dense_unit(a, u);
            else parse_block_unit(a, u);
        }
        if (s_.elastic_resolution()) {
            expect_char('@', [] { return std::string("'@' and the input resolution"); });
            size_t start = p_;
            const std::string digits(read_run(is_digit));
            int r = -1;
            if (!digits.empty() && digits.size() <= 5) r = std::stoi(digits);
            bool ok = false;
            for (int x : s_.resolutions) ok = ok || x == r;
            if (!ok || digits[0] == '0') {
                // "128..224 in steps of 4" when the list is a range, else the list itself
                const auto& rs = s_.resolutions;
                bool even = rs.size() > 2;
                for (size_t i = 2; even && i < rs.size(); ++i) even = rs[i] - rs[i - 1] == rs[1] - rs[0];
                std::string allowed;
                if (even) {
                    allowed = std::to_string(rs.front()) + ".." + std::to_string(rs.back()) + " in steps of " +
                              std::to_string(rs[1] - rs[0]);
                } else {
                    for (int x : rs) allowed += (allowed.empty() ? "" : ", ") + std::to_string(x);
                }
                fail(start, "resolution '" + digits + "' is not allowed; expected " + allowed + " (the space's list)");
            }
            a.res = r;
        } else {
            a.res = s_.default_resolution();
        }
        if (p_ != t_.size())
            fail(p_, std::string("expected end of text") + (s_.elastic_resolution() ? "" : " (this space has a fixed resolution)") +
                         ", got " + shown(t_, p_));
    }

private:
    [[noreturn]] void fail(size_t pos, const std::string& what) const {
        throw Error(ErrorKind::Parse, s_.name + " architecture, column " + std::to_string(pos + 1) + ": " + what);
    }

    // what() describes what was expected; called only on a mismatch (the hot path of
    // esm-predict's millions of lines builds no strings).
    template <class What>
    void expect_literal(const std::string& lit, What what) {
        for (size_t i = 0; i < lit.size(); ++i)
            if (p_ + i >= t_.size() || t_[p_ + i] != lit[i]) fail(p_ + i, "expected " + what() + ", got " + shown(t_, p_ + i));
        p_ += lit.size();
    }

    template <class What>
    void expect_char(char c, What what) {
        if (p_ >= t_.size() || t_[p_] != c) fail(p_, "expected " + what() + ", got " + shown(t_, p_));
        ++p_;
    }

    template <class Pred>
    std::string_view read_run(Pred pred) {
        size_t start = p_;
        while (p_ < t_.size() && pred(t_[p_])) ++p_;
        return t_.substr(start, p_ - start);
    }

    BlockChoice parse_choices() {
        BlockChoice b{};
        for (size_t i = 0; i < s_.choices.size(); ++i) {
            const Choice& c = s_.choices[i];
            // (A DenseNet-family unit has one set of choices, after its layer count.)
            expect_literal(c.name, [&] {
                return "'" + c.name + "' (" +
                       (i > 0 ? "choice " + c.name : s_.per_unit_choices ? "the unit's choices" : std::string("a block")) + ")";
            });
            size_t start = p_;
            const std::string_view label =
                read_run([](char ch) { return is_digit(ch) || ch == '.'; });
            int idx = -1;
            for (size_t j = 0; j < c.labels.size(); ++j)
                if (same_text(c.labels[j], label)) idx = static_cast<int>(j);
            if (idx < 0)
                fail(start, (label.empty() ? "missing " + c.name + " value"
                                           : "unknown " + c.name + " value '" + std::string(label) + "'") +
                                "; expected " + one_of(c.labels));
            b[i] = static_cast<uint8_t>(idx);
        }
        return b;
    }

    void parse_block_unit(Arch& a, size_t u) {
        const UnitSpec& us = s_.units[u];
        a.units[u].reserve(static_cast<size_t>(us.max_depth));
        for (;;) {
            if (static_cast<int>(a.units[u].size()) == us.max_depth)
                fail(p_, "unit " + std::to_string(u) + " has more than " + std::to_string(us.max_depth) + " blocks");
            a.units[u].push_back(parse_choices());
            if (p_ < t_.size() && t_[p_] == '-') {
                ++p_;
                continue;
            }
            break;
        }
        if (static_cast<int>(a.units[u].size()) < us.min_depth)
            fail(p_, "unit " + std::to_string(u) + " has " + std::to_string(a.units[u].size()) + " blocks, needs at least " +
                         std::to_string(us.min_depth) + "; expected '-' and another block");
        if (u + 1 < s_.units.size() && (p_ >= t_.size() || t_[p_] != '/'))
            fail(p_, "expected '-' (another block) or '/' (to start unit " + std::to_string(u + 1) + " of 0.." +
                         std::to_string(s_.units.size() - 1) + "), got " + shown(t_, p_));
    }

    void parse_dense_unit(Arch& a, size_t u) {
        const UnitSpec& us = s_.units[u];
        expect_char('d', [&] { return "'d' and the number of layers of unit " + std::to_string(u); });
        size_t start = p_;
        const std::string digits(read_run(is_digit));
        int n = (!digits.empty() && digits.size() <= 3 && digits[0] != '0') ? std::stoi(digits) : -1;
        const std::string range = std::to_string(us.min_depth) + ".." + std::to_string(us.max_depth);
        if (digits.empty())
            fail(start, "expected the number of layers of unit " + std::to_string(u) + " (" + range + ") after 'd', got " +
                            shown(t_, p_));
        if (n < us.min_depth || n > us.max_depth)
            fail(start, "unit " + std::to_string(u) + " depth '" + digits + "' out of range; expected " + range);
        BlockChoice b = parse_choices();
        a.units[u].assign(static_cast<size_t>(n), b);
    }

    const Space& s_;
    std::string_view t_;
    size_t p_ = 0;
};

}  // namespace

Arch parse_arch(const Space& space, std::string_view text) {
    Arch a;
    ArchParser(space, text).parse(a);
    return a;
}

bool try_parse_arch(const Space& space, std::string_view text, Arch* out, std::string* error) {
    try {
        ArchParser(space, text).parse(*out);
        return true;
    } catch (const Error& e) {
        if (error) *error = e.what();
        return false;
    }
}

std::string format_arch(const Space& space, const Arch& a) {
    std::string s = space.name;
    s += ':';
    auto choices = [&](const BlockChoice& b) {
        for (size_t i = 0; i < space.choices.size(); ++i) {
            s += space.choices[i].name;
            s += space.choices[i].labels[b[i]];
        }
    };
    for (size_t u = 0; u < a.units.size(); ++u) {
        if (u) s += '/';
        if (space.per_unit_choices) {
            s += 'd';
            s += std::to_string(a.units[u].size());
            choices(a.units[u].front());
        } else {
            for (size_t b = 0; b < a.units[u].size(); ++b) {
                if (b) s += '-';
                choices(a.units[u][b]);
            }
        }
    }
    if (space.elastic_resolution()) {
        s += '@';
        s += std::to_string(a.res);
    }
    return s;
}

size_t max_arch_text_length(const Space& s) {
    size_t block = 0;
    for (const auto& c : s.choices) {
        size_t longest = 0;
        for (const auto& l : c.labels) longest = std::max(longest, l.size());
        block += c.name.size() + longest;
    }
    size_t n = s.name.size() + 1 + (s.units.size() - 1);
    for (const auto& u : s.units)
        n += s.per_unit_choices ? 1 + std::to_string(u.max_depth).size() + block
                                : static_cast<size_t>(u.max_depth) * (block + 1) - 1;
    if (s.elastic_resolution()) n += 1 + std::to_string(s.resolutions.back()).size();
    return n;
}

void validate_arch(const Space& space, const Arch& a) {
    auto bad = [&](const std::string& what) { throw Error(ErrorKind::InvalidArgument, space.name + " architecture: " + what); };
    if (a.units.size() != space.units.size()) bad("has " + std::to_string(a.units.size()) + " units, the space has " +
                                                  std::to_string(space.units.size()));
    for (size_t u = 0; u < a.units.size(); ++u) {
        int d = static_cast<int>(a.units[u].size());
        if (d < space.units[u].min_depth || d > space.units[u].max_depth)
            bad("unit " + std::to_string(u) + " depth " + std::to_string(d) + " out of range");
        for (const auto& b : a.units[u]) {
            for (size_t i = 0; i < kMaxChoices; ++i)
                if (i < space.choices.size() ? b[i] >= space.choices[i].values.size() : b[i] != 0)
                    bad("unit " + std::to_string(u) + " has an invalid choice index");
            if (space.per_unit_choices && b != a.units[u].front()) bad("unit " + std::to_string(u) + " mixes choices");
        }
    }
    bool ok = false;
    for (int r : space.resolutions) ok = ok || r == a.res;
    if (!ok) bad("resolution " + std::to_string(a.res) + " not allowed");
}

}  // namespace esm
