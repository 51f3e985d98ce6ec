// See relative.hpp.
#include "clock/relative.hpp"

#include "pg/versions.hpp"

#include <cstring>

namespace pgut::clock {
namespace {

bool append(char* out, size_t size, size_t* used, const char* text) {
  size_t len = std::strlen(text);
  if (*used + len + 2 > size) return false;
  if (*used > 0) out[(*used)++] = ' ';
  std::memcpy(out + *used, text, len + 1);
  *used += len;
  return true;
}

}  // namespace

bool tokenize_datetime(const char* text, DateTimeTokens* tokens) {
  if (ParseDateTime(text, tokens->workbuf, sizeof tokens->workbuf, tokens->field, tokens->ftype,
                    MAXDATEFIELDS, &tokens->count) != 0)
    return false;
  tokens->relative = 0;
  for (int i = 0; i < tokens->count; i++) {
    tokens->special[i] = 0;
    if (tokens->ftype[i] != DTK_STRING && tokens->ftype[i] != DTK_SPECIAL) continue;
    if (pg::is_timezone_abbreviation(i, tokens->field[i])) continue;
    int value = 0;
    if (DecodeSpecial(i, tokens->field[i], &value) != RESERV) continue;
    if (value == DTK_NOW || value == DTK_TODAY || value == DTK_TOMORROW || value == DTK_YESTERDAY) {
      tokens->special[i] = value;
      tokens->relative++;
    }
  }
  return true;
}

bool substitute_relative(const DateTimeTokens& tokens, TimestampTz at, char* out, size_t size) {
  struct pg_tm tm;
  fsec_t fsec = 0;
  int tz = 0;
  if (timestamp2tm(at, &tz, &tm, &fsec, nullptr, nullptr) != 0) return false;
  // 'now': date, time and the zone's offset at that instant; the day words: the date only, so
  // that a time or zone given with them applies as it would to the real date.
  char now_text[MAXDATELEN + 1];
  EncodeDateTime(&tm, fsec, true, tz, nullptr, USE_ISO_DATES, now_text);
  const int today = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
  size_t used = 0;
  out[0] = '\0';
  // The day words first: the decoders accept a date before a time but not always after one
  // ('10:30 yesterday' is valid, '10:30 2011-11-10' is not), and a day word only sets the date.
  for (int i = 0; i < tokens.count; i++) {
    const int special = tokens.special[i];
    if (special == 0 || special == DTK_NOW) continue;
    struct pg_tm day = {};
    const int shift = special == DTK_TOMORROW ? 1 : special == DTK_YESTERDAY ? -1 : 0;
    j2date(today + shift, &day.tm_year, &day.tm_mon, &day.tm_mday);
    char day_text[MAXDATELEN + 1];
    EncodeDateOnly(&day, USE_ISO_DATES, day_text);
    if (!append(out, size, &used, day_text)) return false;
  }
  for (int i = 0; i < tokens.count; i++) {
    const int special = tokens.special[i];
    if (special != 0 && special != DTK_NOW) continue;
    if (!append(out, size, &used, special == DTK_NOW ? now_text : tokens.field[i])) return false;
  }
  return true;
}

bool decodes(DateTimeTokens* tokens, bool time_only) {
  int dtype = 0;
  int tz = 0;
  fsec_t fsec = 0;
  struct pg_tm tm;
  int error = time_only ? pg::decode_time_only(tokens->field, tokens->ftype, tokens->count, &dtype,
                                               &tm, &fsec, &tz)
                        : pg::decode_date_time(tokens->field, tokens->ftype, tokens->count, &dtype,
                                               &tm, &fsec, &tz);
  return error == 0;
}

}  // namespace pgut::clock
