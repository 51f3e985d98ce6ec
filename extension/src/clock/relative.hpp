// Date/time input that names the current time: 'now', 'today', 'tomorrow', 'yesterday'.
//
// PostgreSQL's decoders resolve these words from the real transaction start (GetCurrentDateTime),
// a static no extension may write. So the input is tokenised with PostgreSQL's own ParseDateTime,
// each token is classified with DecodeSpecial (after the time zone abbreviations, which take
// precedence in the decoders too), and the words are replaced by the date (or, for 'now', the date,
// time and UTC offset) of the mocked instant in the session's time zone, written by PostgreSQL's
// own encoder in ISO form, which every DateStyle reads back (a date goes first: the decoders read
// '2011-11-10 10:30' but not '10:30 2011-11-10'). The rest of the input is kept, so
// 'tomorrow 10:00 America/New_York' keeps its time and zone, and the stock input function does
// the conversion, rounding and range checks. Whether the input is valid at all is decided by the
// stock decoder on the original tokens, so bad input gets the stock function's own message, with
// the text as the user wrote it.
#pragma once

#include "pg/postgres.hpp"

namespace pgut::clock {

// Tokens of one date/time input text.
struct DateTimeTokens {
  char workbuf[MAXDATELEN + MAXDATEFIELDS];
  char* field[MAXDATEFIELDS];
  int ftype[MAXDATEFIELDS];
  int special[MAXDATEFIELDS];  // DTK_NOW, DTK_TODAY, DTK_TOMORROW, DTK_YESTERDAY or 0
  int count = 0;
  int relative = 0;  // how many tokens name the current time
};

// Tokenises text; false when ParseDateTime rejects it (the input function will say why).
bool tokenize_datetime(const char* text, DateTimeTokens* tokens);

// Writes the tokens, the relative words replaced by the instant `at` in the session's time zone,
// into out (NUL-terminated); false if it does not fit.
bool substitute_relative(const DateTimeTokens& tokens, TimestampTz at, char* out, size_t size);

// Do the tokens decode as a date/time (time_only: as a time of day)? Consumes the tokens (the
// decoders split fields in place).
bool decodes(DateTimeTokens* tokens, bool time_only);

}  // namespace pgut::clock
