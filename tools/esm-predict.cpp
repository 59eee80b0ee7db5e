// esm-predict: latencies of architectures from a predictor file, one per line, for
// arguments or (with '-') millions of lines on stdin: buffered I/O, batched prediction.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "esm/predictor.hpp"

static const char* kUsage =
    "usage: esm-predict PREDICTOR [ARCH ... | -]\n"
    "       esm-predict PREDICTOR --info\n"
    "Print the predicted latency (the predictor's target unit, ms) of each architecture, one per line,\n"
    "in input order. '-' (or no ARCH) reads architectures from stdin, one per line (empty lines skipped).\n"
    "A malformed architecture is an error naming its line.\n"
    "  --info   what the predictor was built for instead: its space, encoding, target, the header of\n"
    "           the dataset it was trained on (device, backend, resolution, batch, ...), how it was\n"
    "           trained and its test metrics then\n";

namespace {

// Predictions that are no latency (<= 0, or not finite): a network extrapolating far past
// its training data. Printed as they are, counted, and said on stderr at the end.
struct Implausible {
    long count = 0, first = 0;  // first: its output line (1-based)
    long written = 0;
};

void flush(const esm::Predictor& p, const esm::Arch* batch, size_t n, std::vector<float>& out, Implausible& bad) {
    out.resize(n);
    p.predict_batch(batch, n, out.data());
    char buf[32];
    for (float v : out) {  // what printf's "%.6g\n" writes, without its locale and varargs
        ++bad.written;
        if (!(v > 0) || !std::isfinite(v)) {
            if (bad.count++ == 0) bad.first = bad.written;
        }
        char* end = std::to_chars(buf, buf + sizeof buf - 1, static_cast<double>(v), std::chars_format::general, 6).ptr;
        *end++ = '\n';
        std::fwrite(buf, 1, static_cast<size_t>(end - buf), stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage, {{"--info", false}});
    return esm_cli::run_tool("esm-predict", [&] {
        const auto& pos = args.positional();
        if (pos.empty()) args.usage_error("expected a predictor file");
        esm::set_blas_threads(1);
        const esm::Predictor p = esm::Predictor::load(pos[0]);
        if (args.has("--info")) {
            if (pos.size() > 1) args.usage_error("--info takes no architectures");
            std::printf("space: %s\nencoding: %s\nresolution encoding: %s\nlog target: %s\ntarget: %s\nbins: %d\n"
                        "library: %s\ntraining: %s\n",
                        p.space().name.c_str(), esm::encoding_name(p.encoding()),
                        esm::res_encoding_name(p.encoder().res_encoding()), p.model().log_target ? "yes" : "no",
                        p.target.c_str(), p.n_bins, p.library_version.c_str(), p.training.c_str());
            for (const auto& [k, v] : p.dataset_meta)
                if (k != "space_line") std::printf("dataset %s: %s\n", k.c_str(), v.c_str());
            std::printf("test metrics: %s\n", p.metrics_json.empty() ? "(none recorded)" : p.metrics_json.c_str());
            return 0;
        }
        static char obuf[1 << 20];
        std::setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
        std::vector<float> out;
        Implausible bad;
        const bool from_stdin = pos.size() == 1 || (pos.size() == 2 && pos[1] == "-");
        if (!from_stdin && std::find(pos.begin() + 1, pos.end(), "-") != pos.end())
            args.usage_error("'-' (read stdin) takes the place of the architecture arguments, not a place among them");
        std::string err;
        if (!from_stdin) {
            std::vector<esm::Arch> archs(pos.size() - 1);
            for (size_t i = 1; i < pos.size(); ++i)
                if (!esm::try_parse_arch(p.space(), pos[i], &archs[i - 1], &err)) args.fail("argument " + std::to_string(i) + ": " + err);
            flush(p, archs.data(), archs.size(), out, bad);
        } else {
            // The batch's architectures are parsed into again and again: no allocation per line.
            std::vector<esm::Arch> batch(4096);
            size_t n = 0;
            char* line = nullptr;
            size_t cap = 0;
            long line_no = 0;
            ssize_t len;
            while ((errno = 0, len = ::getline(&line, &cap, stdin)) >= 0) {  // errno: that of a failed read
                ++line_no;
                // Trailing blanks (an edited file) go with the line end, as in esm-lut's --archs.
                auto blank = [](char c) { return c == '\n' || c == '\r' || c == ' ' || c == '\t'; };
                while (len > 0 && blank(line[len - 1])) line[--len] = '\0';
                if (len == 0) continue;
                if (!esm::try_parse_arch(p.space(), std::string_view(line, static_cast<size_t>(len)), &batch[n], &err)) {
                    std::fflush(stdout);
                    std::free(line);
                    args.fail("stdin line " + std::to_string(line_no) + ": " + err);
                }
                if (++n == batch.size()) {
                    flush(p, batch.data(), n, out, bad);
                    n = 0;
                }
            }
            const int read_errno = errno;
            std::free(line);
            // getline returns -1 on a read error as at the end: without this check a failed
            // read (EIO, a directory as stdin) printed the lines so far and exited 0
            if (std::ferror(stdin))
                args.fail("cannot read stdin after line " + std::to_string(line_no) + ": " +
                          (read_errno ? std::strerror(read_errno) : "read error"));
            flush(p, batch.data(), n, out, bad);
        }
        std::fflush(stdout);  // the predictions before the warning (a failure is run_tool's to say)
        if (bad.count)
            std::fprintf(stderr, "esm-predict: warning: %ld of %ld predictions are not a latency (<= 0 or not finite; the "
                                 "first on output line %ld): the predictor extrapolates far past its training data\n",
                         bad.count, bad.written, bad.first);
        return 0;
    });
}
