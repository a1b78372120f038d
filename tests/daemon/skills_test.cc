// The daemon's local skills: SKILL.md front matter, the skills dirs it lists, and the bundle an
// import sends — unsafe links, binaries and every limit.
#include "courier/daemon/skills.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "courier/util/json.h"
#include "support/node_process.h"

namespace courier::daemon {
namespace {

namespace fs = std::filesystem;

// ---- Front matter -------------------------------------------------------------------------

FrontMatter fm(const std::string& text) { return parseFrontMatter(text); }

TEST(FrontMatter, NameAndDescription) {
  auto f = fm("---\nname: pdf\ndescription: Fill in PDF forms.\n---\n# PDF\n");
  EXPECT_TRUE(f.present);
  EXPECT_EQ(f.name, "pdf");
  EXPECT_EQ(f.description, "Fill in PDF forms.");
}

TEST(FrontMatter, OtherKeysCommentsAndOrderDoNotMatter) {
  auto f =
      fm("---\n# a comment\nlicense: MIT\ndescription: Second.  # trailing comment\n"
         "allowed-tools: [Read, Write]\nname: first\n---\n");
  EXPECT_EQ(f.name, "first");
  EXPECT_EQ(f.description, "Second.");
}

TEST(FrontMatter, QuotedScalars) {
  EXPECT_EQ(fm("---\nname: \"a: b # not a comment\"\n---\n").name, "a: b # not a comment");
  EXPECT_EQ(fm("---\nname: 'it''s'\n---\n").name, "it's");
  EXPECT_EQ(fm("---\ndescription: \"tab\\tquote\\\" \\u00e9 \\\\\"\n---\n").description,
            "tab\tquote\" \xC3\xA9 \\");
  EXPECT_EQ(fm("---\ndescription: \"two\n  lines\"\n---\n").description, "two lines");
  EXPECT_EQ(fm("---\ndescription: 'para\n\n  two'\n---\n").description, "para\ntwo");
}

TEST(FrontMatter, BlockScalars) {
  const std::string folded =
      "---\ndescription: >\n  Folded onto\n  one line.\n\n  New para.\n"
      "name: x\n---\n";
  EXPECT_EQ(fm(folded).description, "Folded onto one line.\nNew para.");
  EXPECT_EQ(fm(folded).name, "x");
  EXPECT_EQ(fm("---\ndescription: |\n  line one\n    indented\n  line three\n---\n").description,
            "line one\n  indented\nline three");
  EXPECT_EQ(fm("---\ndescription: >-\n  stripped\n---\n").description, "stripped");
  EXPECT_EQ(fm("---\ndescription: |+\n  kept\n\n---\n").description, "kept");  // trimmed after
}

TEST(FrontMatter, PlainScalarOverSeveralLines) {
  EXPECT_EQ(fm("---\ndescription: starts here\n  and goes on\nname: n\n---\n").description,
            "starts here and goes on");
  EXPECT_EQ(fm("---\ndescription:\n  on the next line\n---\n").description, "on the next line");
}

TEST(FrontMatter, NestedValuesAreNotStrings) {
  auto f =
      fm("---\nmetadata:\n  name: inner\n  description: inner\nname: outer\n"
         "description:\n  - a list\n---\n");
  EXPECT_EQ(f.name, "outer");
  EXPECT_EQ(f.description, "");
  EXPECT_EQ(fm("---\nname: [a, b]\n---\n").name, "");
  EXPECT_EQ(fm("---\nname: ~\n---\n").name, "");
  EXPECT_EQ(fm("---\nname:\n---\n").name, "");
}

TEST(FrontMatter, CrlfBomAndDotsTerminator) {
  auto f = fm("\xEF\xBB\xBF---\r\nname: win\r\ndescription: crlf\r\n...\r\nbody\r\n");
  EXPECT_TRUE(f.present);
  EXPECT_EQ(f.name, "win");
  EXPECT_EQ(f.description, "crlf");
}

TEST(FrontMatter, AbsentOrUnclosed) {
  EXPECT_FALSE(fm("# Just markdown\nname: no\n").present);
  EXPECT_FALSE(fm("---\nname: never closed\n").present);
  EXPECT_EQ(fm("---\nname: never closed\n").name, "");
  EXPECT_FALSE(fm("").present);
  EXPECT_FALSE(fm("--- \n").present);
  EXPECT_TRUE(fm("---\n---\n").present);
}

TEST(FrontMatter, OnlyTheFirstBlockCounts) {
  auto f = fm("---\nname: first\n---\n\n---\nname: second\n---\n");
  EXPECT_EQ(f.name, "first");
}

TEST(SkillKey, OnePlainPathComponent) {
  EXPECT_TRUE(isSafeSkillKey("pdf"));
  EXPECT_TRUE(isSafeSkillKey("my skill (v2)"));
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", ".hidden", "a/b", "../etc", "/abs", "a\\b",
                                std::string("a\0b", 3), std::string(256, 'k')}) {
    EXPECT_FALSE(isSafeSkillKey(bad)) << bad;
  }
}

// ---- Skill folders ------------------------------------------------------------------------

class SkillDirs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = courier::testing::makeTempDir("courier-skills");
    ASSERT_FALSE(root_.empty());
    dir_ = root_ + "/skills";
    outside_ = root_ + "/outside";
    fs::create_directories(dir_);
    fs::create_directories(outside_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Writes `content` at dir_/rel (or `rel` if absolute), creating folders.
  std::string write(const std::string& rel, const std::string& content) {
    fs::path p = rel[0] == '/' ? fs::path(rel) : fs::path(dir_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.native();
  }
  void link(const std::string& target, const std::string& rel) {
    fs::create_symlink(target, fs::path(dir_) / rel);
  }
  static std::string skillMd(const std::string& name, const std::string& description = "d") {
    return "---\nname: " + name + "\ndescription: " + description + "\n---\n# " + name + "\n";
  }
  Result<SkillBundle, SkillError> load(const std::string& key) { return loadSkill({dir_}, key); }
  static std::vector<std::string> paths(const SkillBundle& b) {
    std::vector<std::string> out;
    for (const auto& f : b.files) out.push_back(f.path);
    return out;
  }

  std::string root_, dir_, outside_;
};

TEST_F(SkillDirs, ListsEachFolderWithASkillMd) {
  write("pdf/SKILL.md", skillMd("PDF tools", "Fill forms"));
  write("pdf/scripts/fill.py", "print(1)\n");
  write("pdf/ref/a/b/c/d/deep.md", "too deep to count\n");
  write("bare/SKILL.md", "# no front matter\n");
  write("no-skill/README.md", "not a skill\n");
  write(".hidden/SKILL.md", skillMd("hidden"));
  write("loose-file.md", "not a folder\n");
  auto skills = listSkills({dir_});
  ASSERT_EQ(skills.size(), 2u);
  EXPECT_EQ(skills[0].key, "bare");
  EXPECT_EQ(skills[0].name, "bare");  // no front matter: the key
  EXPECT_EQ(skills[0].description, "");
  EXPECT_EQ(skills[0].file_count, 0u);
  EXPECT_EQ(skills[1].key, "pdf");
  EXPECT_EQ(skills[1].name, "PDF tools");
  EXPECT_EQ(skills[1].description, "Fill forms");
  EXPECT_EQ(skills[1].source_path, dir_ + "/pdf");
  EXPECT_EQ(skills[1].file_count, 1u);  // SKILL.md and the too-deep file are not counted
}

TEST_F(SkillDirs, EarlierDirsWinAndMissingDirsAreIgnored) {
  write("pdf/SKILL.md", skillMd("first"));
  write(outside_ + "/pdf/SKILL.md", skillMd("second"));
  write(outside_ + "/other/SKILL.md", skillMd("other"));
  auto skills = listSkills({root_ + "/missing", dir_, outside_});
  ASSERT_EQ(skills.size(), 2u);
  EXPECT_EQ(skills[0].name, "first");
  EXPECT_EQ(skills[1].key, "other");
  EXPECT_EQ(loadSkill({dir_, outside_}, "pdf")->name, "first");
  EXPECT_EQ(loadSkill({dir_, outside_}, "other")->name, "other");
  EXPECT_TRUE(listSkills({}).empty());
}

TEST_F(SkillDirs, ReadsTheDiskAfreshEveryTime) {
  write("a/SKILL.md", skillMd("a"));
  EXPECT_EQ(listSkills({dir_}).size(), 1u);
  write("b/SKILL.md", skillMd("b"));
  write("a/SKILL.md", skillMd("a2"));
  auto skills = listSkills({dir_});
  ASSERT_EQ(skills.size(), 2u);
  EXPECT_EQ(skills[0].name, "a2");
}

TEST_F(SkillDirs, TheSkillFolderMayBeALinkButSkillMdMustStayInside) {
  write(outside_ + "/linked/SKILL.md", skillMd("linked"));
  write(outside_ + "/linked/notes.txt", "n\n");
  link(outside_ + "/linked", "linked");
  write(outside_ + "/secret.md", skillMd("secret"));
  fs::create_directories(fs::path(dir_) / "leaky");
  link(outside_ + "/secret.md", "leaky/SKILL.md");
  auto skills = listSkills({dir_});
  ASSERT_EQ(skills.size(), 1u);
  EXPECT_EQ(skills[0].key, "linked");
  EXPECT_EQ(skills[0].source_path, dir_ + "/linked");
  auto b = load("linked");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(paths(*b), std::vector<std::string>{"notes.txt"});
  EXPECT_EQ(load("leaky").error().code, SkillErrc::kNotFound);
}

TEST_F(SkillDirs, BundleHasSkillMdAsContentAndTheOtherFilesSorted) {
  const std::string md = skillMd("pdf", "Fill forms");
  write("pdf/SKILL.md", md);
  write("pdf/scripts/fill.py", "print('é')\n");
  write("pdf/a/b/c/d/four-deep.md", "ok\n");
  write("pdf/README.md", "");
  auto b = load("pdf");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->name, "pdf");
  EXPECT_EQ(b->description, "Fill forms");
  EXPECT_EQ(b->content, md);
  EXPECT_EQ(b->source_path, dir_ + "/pdf");
  EXPECT_EQ(paths(*b),
            (std::vector<std::string>{"README.md", "a/b/c/d/four-deep.md", "scripts/fill.py"}));
  EXPECT_EQ(b->files[2].content, "print('é')\n");
}

TEST_F(SkillDirs, UnknownOrUnsafeKeysAreNotFound) {
  write("pdf/SKILL.md", skillMd("pdf"));
  write("nomd/other.md", "x");
  for (const std::string key : {"nope", "../skills/pdf", "pdf/..", "..", ".", "", "nomd"}) {
    auto b = load(key);
    ASSERT_FALSE(b.ok()) << key;
    EXPECT_EQ(b.error().code, SkillErrc::kNotFound) << key;
    EXPECT_EQ(b.error().message, "skill not found: " + key);
  }
}

TEST_F(SkillDirs, LinksThatLeaveTheFolderAreSkipped) {
  write("pdf/SKILL.md", skillMd("pdf"));
  write("pdf/inside.txt", "in\n");
  write(outside_ + "/secret.txt", "secret\n");
  write(outside_ + "/dir/also-secret.txt", "secret\n");
  link(outside_ + "/secret.txt", "pdf/secret-link.txt");
  link(outside_ + "/dir", "pdf/dir-link");
  link("/etc/passwd", "pdf/passwd");
  link("../other/SKILL.md", "pdf/sibling.md");
  write("other/SKILL.md", skillMd("other"));
  link("inside.txt", "pdf/alias.txt");       // stays inside: sent under the link's name
  link(".", "pdf/loop");                     // a loop back to the folder: visited once
  link("does-not-exist", "pdf/broken.txt");  // dangling
  auto b = load("pdf");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(paths(*b), (std::vector<std::string>{"alias.txt", "inside.txt"}));
  for (const auto& f : b->files) EXPECT_EQ(f.content.find("secret"), std::string::npos);
  EXPECT_EQ(b->skipped.size(), 5u);
  EXPECT_EQ(listSkills({dir_})[1].file_count, 2u);
}

TEST_F(SkillDirs, VcsFoldersFinderFilesAndSpecialFilesAreSkipped) {
  write("pdf/SKILL.md", skillMd("pdf"));
  write("pdf/.git/config", "[core]\n");
  write("pdf/.DS_Store", "x");
  write("pdf/.env.example", "KEY=\n");                         // other dotfiles are ordinary files
  ASSERT_EQ(::mkfifo((dir_ + "/pdf/fifo").c_str(), 0600), 0);  // must not block the read
  auto b = load("pdf");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(paths(*b), std::vector<std::string>{".env.example"});
}

TEST_F(SkillDirs, BinaryFilesAreSkippedNotSent) {
  write("pdf/SKILL.md", skillMd("pdf"));
  write("pdf/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  write("pdf/latin1.txt", "caf\xE9\n");                                     // not UTF-8
  write("pdf/big.bin", std::string(3 << 20, 'x').replace(10, 1, 1, '\0'));  // 3 MiB, NUL early
  write("pdf/text.md", "text\n");
  auto b = load("pdf");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(paths(*b), std::vector<std::string>{"text.md"});
  EXPECT_EQ(b->skipped, (std::vector<std::string>{"big.bin (binary)", "latin1.txt (binary)",
                                                  "logo.png (binary)"}));
}

TEST_F(SkillDirs, AFileOverOneMiBFailsTheImport) {
  write("pdf/SKILL.md", skillMd("pdf"));
  write("pdf/ok.txt", std::string(1 << 20, 'a'));  // exactly 1 MiB is fine
  EXPECT_TRUE(load("pdf").ok());
  write("pdf/data/huge.txt", std::string((1 << 20) + 1, 'a'));
  auto b = load("pdf");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, SkillErrc::kLimit);
  EXPECT_EQ(b.error().message, "skill pdf: data/huge.txt is larger than 1 MiB (1048577 bytes)");
  write("big/SKILL.md", skillMd("big") + std::string(1 << 20, 'x'));
  EXPECT_EQ(load("big").error().code, SkillErrc::kLimit);
}

TEST_F(SkillDirs, MoreThan256FilesFailTheImport) {
  write("many/SKILL.md", skillMd("many"));
  for (int i = 0; i < 256; ++i) write("many/f/" + std::to_string(i) + ".txt", "x");
  auto ok = load("many");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->files.size(), 256u);
  write("many/one-more.txt", "x");
  auto b = load("many");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "skill many: more than 256 files besides SKILL.md");
}

TEST_F(SkillDirs, MoreThanEightMiBTogetherFailTheImport) {
  write("big/SKILL.md", skillMd("big"));
  for (int i = 0; i < 8; ++i)
    write("big/part" + std::to_string(i) + ".txt", std::string(1 << 20, 'p'));
  auto b = load("big");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, SkillErrc::kLimit);
  EXPECT_EQ(b.error().message, "skill big: the files are larger than 8 MiB together");
}

TEST_F(SkillDirs, FilesNestedDeeperThanFourFoldersFailTheImport) {
  write("deep/SKILL.md", skillMd("deep"));
  write("deep/1/2/3/4/ok.txt", "ok");
  ASSERT_TRUE(load("deep").ok());
  write("deep/1/2/3/4/5/too-deep.txt", "no");
  auto b = load("deep");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            "skill deep: 1/2/3/4/5/too-deep.txt is nested deeper than 4 folders");
}

TEST_F(SkillDirs, CustomLimits) {
  write("s/SKILL.md", skillMd("s"));
  write("s/a.txt", "aaaa");
  write("s/b.txt", "bbbb");
  SkillLimits tight;
  tight.max_files = 1;
  EXPECT_EQ(loadSkill({dir_}, "s", tight).error().code, SkillErrc::kLimit);
  tight = {};
  tight.max_entries = 2;
  EXPECT_EQ(loadSkill({dir_}, "s", tight).error().message,
            "skill s: more than 2 entries in the folder");
}

TEST_F(SkillDirs, UnreadableFilesFailTheImport) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads everything";
  write("s/SKILL.md", skillMd("s"));
  const std::string p = write("s/locked.txt", "x");
  ::chmod(p.c_str(), 0);
  auto b = load("s");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, SkillErrc::kUnreadable);
}

TEST_F(SkillDirs, NamesThatAreNotUtf8AreSkipped) {
  write("s/SKILL.md", skillMd("s"));
  write("s/caf\xE9.txt", "x");
  write("s/ok.txt", "x");
  auto b = load("s");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(paths(*b), std::vector<std::string>{"ok.txt"});
}

// ---- JSON ---------------------------------------------------------------------------------

TEST(SkillJson, ListResultHasTheSummaryFields) {
  SkillSummary s{"pdf", "PDF \"tools\"", "line\nbreak", "/skills/pdf", 3};
  rapidjson::Document doc;
  ASSERT_TRUE(parseJson(skillListJson({s}, "claude"), doc).ok());
  EXPECT_TRUE(doc["supported"].GetBool());
  EXPECT_FALSE(doc["mcp_supported"].GetBool());
  EXPECT_EQ(doc["mcp_servers"].Size(), 0u);
  const auto& j = doc["skills"][0];
  EXPECT_STREQ(j["key"].GetString(), "pdf");
  EXPECT_STREQ(j["name"].GetString(), "PDF \"tools\"");
  EXPECT_STREQ(j["description"].GetString(), "line\nbreak");
  EXPECT_STREQ(j["source_path"].GetString(), "/skills/pdf");
  EXPECT_STREQ(j["provider"].GetString(), "claude");
  EXPECT_STREQ(j["root"].GetString(), "provider");
  EXPECT_EQ(j["file_count"].GetInt(), 3);
  ASSERT_TRUE(parseJson(skillListJson({}, "x"), doc).ok());
  EXPECT_EQ(doc["skills"].Size(), 0u);
}

TEST(SkillJson, ImportResultCarriesContentAndFiles) {
  SkillBundle b;
  b.name = "pdf";
  b.description = "d";
  b.content = "---\nname: pdf\n---\n\t\"quoted\" \x01";
  b.source_path = "/s/pdf";
  b.files = {{"a.txt", "A"}, {"sub/b.md", "B\n"}};
  rapidjson::Document doc;
  ASSERT_TRUE(parseJson(skillBundleJson(b, "claude"), doc).ok());
  const auto& s = doc["skill"];
  EXPECT_EQ(std::string(s["content"].GetString()), b.content);
  EXPECT_STREQ(s["provider"].GetString(), "claude");
  EXPECT_STREQ(s["source_path"].GetString(), "/s/pdf");
  ASSERT_EQ(s["files"].Size(), 2u);
  EXPECT_STREQ(s["files"][1]["path"].GetString(), "sub/b.md");
  EXPECT_STREQ(s["files"][1]["content"].GetString(), "B\n");
}

}  // namespace
}  // namespace courier::daemon
