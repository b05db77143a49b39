/* test_lexer.c — the re2c lexer (grammar/nn.re): token kinds, literals, statement ends (SEP)
 * and lexical errors, with their exact messages.
 *
 * lexstr() turns a source into one line of tokens: keywords and punctuation as written,
 * `id:NAME`, `int:123`, `real:0.1`, `;` for every statement end (newline, ';', or the synthetic
 * one before '}' and at the end) and `$` for the end of input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "front_util.h"
#include "nn.h"

typedef struct Lexed {
  char tokens[4096];
  char *diag;
  size_t diag_len;
  int n_errors;
} Lexed;

static void lex_all(Lexed *out, const char *src, size_t len) {
  Diag d;
  memset(&d, 0, sizeof d);
  d.file = "t.nn";
  d.src = src;
  d.len = len;
  out->diag = NULL;
  d.out = open_memstream(&out->diag, &out->diag_len);
  assert_non_null(d.out);
  Lexer lx;
  lex_init(&lx, src, len);
  size_t n = 0;
  out->tokens[0] = 0;
  for (int guard = 0; guard < 1000; guard++) {
    Token t = lex_next(&lx, &d);
    char one[128];
    switch (t.kind) {
    case 0: snprintf(one, sizeof one, "$"); break;
    case TK_IDENT: snprintf(one, sizeof one, "id:%.*s", t.len, t.text); break;
    case TK_INT: snprintf(one, sizeof one, "int:%.*s", t.len, t.text); break;
    case TK_REAL: snprintf(one, sizeof one, "real:%.*s", t.len, t.text); break;
    case TK_SEP: snprintf(one, sizeof one, ";"); break;
    default: snprintf(one, sizeof one, "%.*s", t.len, t.text); break;
    }
    n += (size_t)snprintf(out->tokens + n, sizeof out->tokens - n, "%s%s", n ? " " : "", one);
    if (t.kind == 0) break;
  }
  fclose(d.out);
  out->n_errors = d.n_errors;
}

/* The tokens of a NUL-free source; asserts that no error was reported. */
static const char *lexstr(const char *src) {
  static Lexed l;
  lex_all(&l, src, strlen(src));
  if (l.n_errors) fprintf(stderr, "unexpected lexer errors:\n%s", l.diag);
  assert_int_equal(l.n_errors, 0);
  free(l.diag);
  return l.tokens;
}

static void test_keywords(void **state) {
  (void)state;
  assert_string_equal(lexstr("model const input label target block return repeat loss optimizer output class "
                             "true false"),
                      "model const input label target block return repeat loss optimizer output class true "
                      "false ; $");
}

static void test_identifiers(void **state) {
  (void)state;
  /* Keywords are whole words only; identifiers may contain digits and underscores. */
  assert_string_equal(lexstr("models _x x1 input_ Model returned a_B_9"),
                      "id:models id:_x id:x1 id:input_ id:Model id:returned id:a_B_9 ; $");
}

static void test_numbers(void **state) {
  (void)state;
  assert_string_equal(lexstr("123 0 0.1 1e-3 2.5E+2 7E5 10.25e3"),
                      "int:123 int:0 real:0.1 real:1e-3 real:2.5E+2 real:7E5 real:10.25e3 ; $");
  /* A sign is an operator, not part of the literal. */
  assert_string_equal(lexstr("-1 +2.5"), "- int:1 + real:2.5 ; $");
}

static void test_punctuation(void **state) {
  (void)state;
  assert_string_equal(lexstr("a = f(b, c=1)[2] : x + y - z * w / v"),
                      "id:a = id:f ( id:b , id:c = int:1 ) [ int:2 ] : id:x + id:y - id:z * id:w / id:v ; $");
}

static void test_sep_newline_and_semicolon(void **state) {
  (void)state;
  assert_string_equal(lexstr("a = b\nc = d\n"), "id:a = id:b ; id:c = id:d ; $");
  assert_string_equal(lexstr("a = 1; b = 2"), "id:a = int:1 ; id:b = int:2 ; $");
  /* Runs of statement ends, blank lines and comments fold into one; none before the first statement. */
  assert_string_equal(lexstr("\n\n# head\n\na\n\n;;\n  # c\nb\n\n"), "id:a ; id:b ; $");
  /* The last line needs no newline: the end of input ends the statement. */
  assert_string_equal(lexstr("model m"), "model id:m ; $");
  assert_string_equal(lexstr("model m # trailing comment"), "model id:m ; $");
  assert_string_equal(lexstr(""), "$");
  assert_string_equal(lexstr("# only a comment"), "$");
}

static void test_sep_inside_brackets(void **state) {
  (void)state;
  /* Newlines inside ( ) and [ ] do not end a statement... */
  assert_string_equal(lexstr("h = dense(h,\n  256,\n  init=zeros)\nx = 1"),
                      "id:h = id:dense ( id:h , int:256 , id:init = id:zeros ) ; id:x = int:1 ; $");
  assert_string_equal(lexstr("input x : [1,\n 28,\n 28]\n"), "input id:x : [ int:1 , int:28 , int:28 ] ; $");
  assert_string_equal(lexstr("a = f(g(\n1\n)\n)\nb"), "id:a = id:f ( id:g ( int:1 ) ) ; id:b ; $");
  /* ...but ';' still does. */
  assert_string_equal(lexstr("f(a;b)"), "id:f ( id:a ; id:b ) ; $");
}

static void test_sep_before_brace(void **state) {
  (void)state;
  /* The '}' that closes a body ends its last statement. */
  assert_string_equal(lexstr("repeat 2 { h = relu(h) }"),
                      "repeat int:2 { id:h = id:relu ( id:h ) ; } ; $");
  /* No statement end right after '{', nor a second one before '}' after a newline. */
  assert_string_equal(lexstr("block b(x) {\n  h = x\n  return h\n}\n"),
                      "block id:b ( id:x ) { id:h = id:x ; return id:h ; } ; $");
  assert_string_equal(lexstr("repeat 0 {}"), "repeat int:0 { } ; $");
  assert_string_equal(lexstr("repeat 1 { repeat 2 { a = b } }"),
                      "repeat int:1 { repeat int:2 { id:a = id:b ; } ; } ; $");
  /* '{' and '}' end any ( or [ left open, so a newline after them ends statements again. */
  assert_string_equal(lexstr("f(a {\nb\n}\nc"), "id:f ( id:a { id:b ; } ; id:c ; $");
}

static void test_crlf(void **state) {
  (void)state;
  assert_string_equal(lexstr("model m\r\ninput x : [4]\r\n\r\nh = f(x,\r\n 2)\r\n"),
                      "model id:m ; input id:x : [ int:4 ] ; id:h = id:f ( id:x , int:2 ) ; $");
  /* A comment ends at the LF; its CR is part of the comment. */
  assert_string_equal(lexstr("a # c\r\nb"), "id:a ; id:b ; $");
}

static void test_token_locations(void **state) {
  (void)state;
  const char *src = "  abc = 12\n}";
  Diag d;
  memset(&d, 0, sizeof d);
  Lexer lx;
  lex_init(&lx, src, strlen(src));
  Token t = lex_next(&lx, &d);
  assert_int_equal(t.kind, TK_IDENT);
  assert_int_equal(t.loc, 2);
  assert_int_equal(t.len, 3);
  t = lex_next(&lx, &d);
  assert_int_equal(t.kind, TK_ASSIGN);
  assert_int_equal(t.loc, 6);
  t = lex_next(&lx, &d);
  assert_int_equal(t.kind, TK_INT);
  assert_int_equal(t.loc, 8);
  assert_int_equal(t.len, 2);
  t = lex_next(&lx, &d); /* the newline */
  assert_int_equal(t.kind, TK_SEP);
  assert_int_equal(t.loc, 10);
  assert_int_equal(t.len, 1);
  t = lex_next(&lx, &d);
  assert_int_equal(t.kind, TK_RBRACE);
  assert_int_equal(t.loc, 11);
  t = lex_next(&lx, &d); /* the end of input ends the statement '}' closed */
  assert_int_equal(t.kind, TK_SEP);
  assert_int_equal(t.len, 0);
  assert_int_equal(t.loc, 12);
  t = lex_next(&lx, &d);
  assert_int_equal(t.kind, 0);
  assert_int_equal(t.loc, 12);
  t = lex_next(&lx, &d); /* stays at the end */
  assert_int_equal(t.kind, 0);
  assert_int_equal(d.n_errors, 0);
}

static void test_synthetic_sep_location(void **state) {
  (void)state;
  /* The SEP made before '}' sits at the '}' and is empty, so errors point at the brace. */
  const char *src = "{ a }";
  Diag d;
  memset(&d, 0, sizeof d);
  Lexer lx;
  lex_init(&lx, src, strlen(src));
  assert_int_equal(lex_next(&lx, &d).kind, TK_LBRACE);
  assert_int_equal(lex_next(&lx, &d).kind, TK_IDENT);
  Token sep = lex_next(&lx, &d);
  assert_int_equal(sep.kind, TK_SEP);
  assert_int_equal(sep.len, 0);
  assert_int_equal(sep.loc, 4);
  Token close = lex_next(&lx, &d);
  assert_int_equal(close.kind, TK_RBRACE);
  assert_int_equal(close.loc, 4);
  assert_int_equal(close.len, 1);
}

/* Lexes a source that has errors; returns what was reported. */
static Lexed *lex_errors(const char *src, size_t len) {
  static Lexed l;
  lex_all(&l, src, len);
  return &l;
}

static void test_error_bad_character(void **state) {
  (void)state;
  Lexed *l = lex_errors("a = b $ c\n", 10);
  assert_string_equal(l->diag, "t.nn:1:7: error: unexpected character '$'\n"
                               "a = b $ c\n"
                               "      ^\n");
  assert_int_equal(l->n_errors, 1);
  /* The bad character is skipped; the tokens around it are kept. */
  assert_string_equal(l->tokens, "id:a = id:b id:c ; $");
  free(l->diag);

  l = lex_errors("x\ty = 1 @ 2 ! 3", 15);
  assert_int_equal(l->n_errors, 2);
  /* Columns count bytes; the caret line keeps the tabs so it lines up. */
  assert_string_equal(l->diag, "t.nn:1:9: error: unexpected character '@'\n"
                               "x\ty = 1 @ 2 ! 3\n"
                               " \t      ^\n"
                               "t.nn:1:13: error: unexpected character '!'\n"
                               "x\ty = 1 @ 2 ! 3\n"
                               " \t          ^\n");
  free(l->diag);
}

static void test_error_control_characters(void **state) {
  (void)state;
  Lexed *l = lex_errors("a\x01" "b\rc", 5);
  assert_string_equal(l->diag, "t.nn:1:2: error: unexpected control character 0x01\n"
                               "a?b\n"
                               " ^\n"
                               "t.nn:1:4: error: unexpected control character 0x0d\n"
                               "a?b\n"
                               "   ^\n");
  assert_string_equal(l->tokens, "id:a id:b id:c ; $");
  free(l->diag);
}

static void test_error_non_ascii(void **state) {
  (void)state;
  /* A run of non-ASCII bytes is one error; the caret counts characters, not bytes. */
  const char *src = "h = \xc3\xa9t\xc3\xa9 + x";
  Lexed *l = lex_errors(src, strlen(src));
  assert_int_equal(l->n_errors, 2);
  assert_string_equal(l->diag, "t.nn:1:5: error: unexpected non-ASCII character\n"
                               "h = \xc3\xa9t\xc3\xa9 + x\n"
                               "    ^\n"
                               "t.nn:1:8: error: unexpected non-ASCII character\n"
                               "h = \xc3\xa9t\xc3\xa9 + x\n"
                               "      ^\n");
  assert_string_equal(l->tokens, "id:h = id:t + id:x ; $");
  free(l->diag);
  /* Invalid UTF-8 (a lone continuation byte, an overlong form) is reported the same way. */
  l = lex_errors("a\x80\xc0\xaf" "b", 5);
  assert_int_equal(l->n_errors, 1);
  assert_string_equal(l->tokens, "id:a id:b ; $");
  free(l->diag);
}

static void test_error_nul_byte(void **state) {
  (void)state;
  /* A NUL before the end is an error (once per run of them); the one after the end is the sentinel. */
  const char src[] = "model m\nx\0\0\0y\n";
  Lexed *l = lex_errors(src, sizeof src - 1);
  assert_int_equal(l->n_errors, 1);
  assert_string_equal(l->diag, "t.nn:2:2: error: NUL byte in source\n"
                               "x???y\n"
                               " ^\n");
  assert_string_equal(l->tokens, "model id:m ; id:x id:y ; $");
  free(l->diag);
  /* A NUL as the very last byte is still inside the source. */
  l = lex_errors("a\0", 2);
  assert_int_equal(l->n_errors, 1);
  assert_string_equal(l->tokens, "id:a ; $");
  free(l->diag);
}

static void test_error_malformed_number(void **state) {
  (void)state;
  static const struct { const char *src, *diag; } cases[] = {
      {"x = 3.5.1", "t.nn:1:5: error: malformed number '3.5.1'\nx = 3.5.1\n    ^\n"},
      {"x = 1.", "t.nn:1:5: error: malformed number '1.'\nx = 1.\n    ^\n"},
      {"x = 1e", "t.nn:1:5: error: malformed number '1e'\nx = 1e\n    ^\n"},
      {"x = 2.5e+", "t.nn:1:5: error: malformed number '2.5e'\nx = 2.5e+\n    ^\n"},
      {"x = 12abc", "t.nn:1:5: error: malformed number '12abc'\nx = 12abc\n    ^\n"},
      {"x = 0x1F", "t.nn:1:5: error: malformed number '0x1F'\nx = 0x1F\n    ^\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Lexed *l = lex_errors(cases[i].src, strlen(cases[i].src));
    assert_int_equal(l->n_errors, 1);
    assert_string_equal(l->diag, cases[i].diag);
    free(l->diag);
  }
  /* A long malformed number is quoted up to 40 characters. */
  char src[128] = "x = ";
  memset(src + 4, '7', 60);
  src[64] = 'q';
  Lexed *l = lex_errors(src, strlen(src));
  assert_int_equal(l->n_errors, 1);
  assert_non_null(strstr(l->diag, "error: malformed number '7777777777777777777777777777777777777777'\n"));
  free(l->diag);
}

static void test_token_names(void **state) {
  (void)state;
  assert_string_equal(token_name(0), "end of input");
  assert_string_equal(token_name(TK_MODEL), "'model'");
  assert_string_equal(token_name(TK_IDENT), "identifier");
  assert_string_equal(token_name(TK_SEP), "end of statement");
  assert_string_equal(token_name(TK_RPAREN), "')'");
  assert_string_equal(token_name(TK_RBRACE), "'}'");
  assert_string_equal(token_name(TK_SLASH), "'/'");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keywords),
      cmocka_unit_test(test_identifiers),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_punctuation),
      cmocka_unit_test(test_sep_newline_and_semicolon),
      cmocka_unit_test(test_sep_inside_brackets),
      cmocka_unit_test(test_sep_before_brace),
      cmocka_unit_test(test_crlf),
      cmocka_unit_test(test_token_locations),
      cmocka_unit_test(test_synthetic_sep_location),
      cmocka_unit_test(test_error_bad_character),
      cmocka_unit_test(test_error_control_characters),
      cmocka_unit_test(test_error_non_ascii),
      cmocka_unit_test(test_error_nul_byte),
      cmocka_unit_test(test_error_malformed_number),
      cmocka_unit_test(test_token_names),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
