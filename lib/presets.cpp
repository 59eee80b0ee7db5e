// The preset spaces, written as space descriptions (docs/space_format.md) so a preset
// is exactly a file a user could have written. Not the place for family semantics.
#include <map>

#include "esm/common.hpp"
#include "esm/space.hpp"

namespace esm {

namespace {

// SPEC §2.1
const char* kResnet = R"(# ResNet bottleneck space (ESM paper Table I)
name = resnet
family = resnet
units = 4
width = 256 512 1024 2048
stride = 1 2 2 2
depth = 1-7
choices_per = block
choice k = 3 5 7
choice e = 1/2:50 2/3:67 1:100
stem = 64
classes = 1000
resolution = 224
)";

// SPEC §2.2; e is the expand ratio 6*e of the paper's width-expansion {1/2, 2/3, 1}.
const char* kMobilenetv3 = R"(# MobileNetV3 (MBConv) space (ESM paper Table I)
name = mobilenetv3
family = mobilenetv3
units = 4
width = 16 32 64 128
stride = 2 2 2 2
depth = 1-7
act = relu relu hswish hswish
se = 0 1 1 1
choices_per = block
choice k = 3 5 7
choice e = 3:50 4:67 6:100
stem = 16
head = 768 1280
classes = 1000
resolution = 224
)";

// SPEC §2.3
const char* kDensenet = R"(# DenseNet space (ESM paper Table I)
name = densenet
family = densenet
units = 5
depth = 1-20
choices_per = unit
choice k = 1 3 5 7 9
stem = 64
growth = 32
bottleneck = 128
classes = 1000
resolution = 224
)";

// Once-for-All MobileNetV3 (shared/data/README.md), elastic resolution.
const char* kOfaMbv3 = R"(# Once-for-All MobileNetV3 space (as in HELP's OFA data)
name = ofa-mbv3
family = mobilenetv3
units = 5
width = 24 40 80 112 160
stride = 2 2 2 1 2
depth = 2-4
act = relu relu hswish hswish hswish
se = 0 1 0 1 1
choices_per = block
choice k = 3 5 7
choice e = 3 4 6
stem = 16
first_block = 16
head = 960 1280
classes = 1000
resolution = 128-224/4
)";

const std::map<std::string, const char*>& table() {
    static const std::map<std::string, const char*> t = {
        {"resnet", kResnet}, {"mobilenetv3", kMobilenetv3}, {"densenet", kDensenet}, {"ofa-mbv3", kOfaMbv3}};
    return t;
}

}  // namespace

std::vector<std::string> preset_names() { return {"resnet", "mobilenetv3", "densenet", "ofa-mbv3"}; }

bool is_preset(const std::string& name) { return table().count(name) != 0; }

Space preset(const std::string& name) {
    auto it = table().find(name);
    if (it == table().end())
        throw Error(ErrorKind::InvalidArgument,
                    "unknown preset space '" + name + "' (presets: resnet, mobilenetv3, densenet, ofa-mbv3)");
    return parse_space(it->second, "preset " + name);
}

}  // namespace esm
