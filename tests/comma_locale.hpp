// Tests under a decimal-comma locale (a host program that called setlocale(LC_ALL, "") in
// Germany): one installed, else one compiled with localedef into the build tree (LOCPATH).
#pragma once
#include <clocale>
#include <cstdlib>
#include <string>

// Sets LC_ALL to a locale whose decimal point is ',' and returns its name, or "" (none
// installed and localedef failed: the caller skips). Restore with `CommaLocale::Restore`.
struct CommaLocale {
    struct Restore {  // the locale comes back however the test ends (the next tests read numbers)
        std::string before = std::setlocale(LC_ALL, nullptr);
        ~Restore() { std::setlocale(LC_ALL, before.c_str()); }
    };
    static std::string set() {
        auto comma = [](const char* name) {
            return std::setlocale(LC_ALL, name) && std::localeconv()->decimal_point[0] == ',';
        };
        for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "nl_NL.UTF-8", "ru_RU.UTF-8"})
            if (comma(name)) return name;
        const std::string dir = std::string(ESM_BINARY_DIR) + "/test_locales";
        const std::string made = dir + "/de_DE.UTF-8";
        if (std::system(("mkdir -p " + dir + " && { test -d " + made + " || localedef -i de_DE -f UTF-8 " + made +
                         "; } > /dev/null 2>&1").c_str()) != 0)
            return "";
        ::setenv("LOCPATH", dir.c_str(), 1);
        if (comma("de_DE.UTF-8")) return "de_DE.UTF-8 (" + dir + ")";
        return "";
    }
};
