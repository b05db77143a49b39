/* nn.re — the re2c lexer of the .nn language (spec §2).
 *
 * The source ends in a NUL byte, the sentinel (re2c:yyfill:enable = 0); a NUL before the end is an
 * error. Newlines and ';' end statements and reach the parser as SEP — except inside ( ) and [ ],
 * where newlines are dropped — and a SEP is also made before a '}' and at the end of input when a
 * statement is open, so "the '}' that closes their body" ends a statement too. Bad bytes are
 * reported here (once per run of them) and skipped, so the parser never sees them.
 */
#include <string.h>

#include "nnc.h"
#include "nn.h"

void lex_init(Lexer *lx, const char *src, size_t len) {
  memset(lx, 0, sizeof *lx);
  lx->src = src;
  lx->cur = src;
  lx->end = src + len;
  /* a UTF-8 byte-order mark (as some editors write) is not part of the program */
  if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) lx->cur += 3;
}

const char *token_name(int kind) {
  switch (kind) {
  case 0: return "end of input";
  case TK_MODEL: return "'model'";
  case TK_CONST: return "'const'";
  case TK_INPUT: return "'input'";
  case TK_LABEL: return "'label'";
  case TK_TARGET: return "'target'";
  case TK_BLOCK: return "'block'";
  case TK_RETURN: return "'return'";
  case TK_REPEAT: return "'repeat'";
  case TK_LOSS: return "'loss'";
  case TK_OPTIMIZER: return "'optimizer'";
  case TK_OUTPUT: return "'output'";
  case TK_CLASS: return "'class'";
  case TK_TRUE: return "'true'";
  case TK_FALSE: return "'false'";
  case TK_IDENT: return "identifier";
  case TK_INT: return "integer";
  case TK_REAL: return "number";
  case TK_SEP: return "end of statement";
  case TK_LPAREN: return "'('";
  case TK_RPAREN: return "')'";
  case TK_LBRACKET: return "'['";
  case TK_RBRACKET: return "']'";
  case TK_LBRACE: return "'{'";
  case TK_RBRACE: return "'}'";
  case TK_COMMA: return "','";
  case TK_ASSIGN: return "'='";
  case TK_COLON: return "':'";
  case TK_PLUS: return "'+'";
  case TK_MINUS: return "'-'";
  case TK_STAR: return "'*'";
  case TK_SLASH: return "'/'";
  default: return "token";
  }
}

static Token make(Lexer *lx, int kind, const char *start) {
  Token t;
  t.kind = kind;
  t.text = start;
  t.len = (int)(lx->cur - start);
  t.loc = (SrcLoc)(start - lx->src);
  return t;
}

/* Which tokens may end a statement: after them a newline is a SEP. */
static bool opens_nothing(int kind) {
  return kind != TK_SEP && kind != TK_LBRACE;
}

static Token lex_raw(Lexer *lx, Diag *d) {
  for (;;) {
    const char *start = lx->cur;
    const char *YYMARKER;
    const char *YYCURSOR = lx->cur;
#define NN_ADVANCE() (lx->cur = YYCURSOR)
    /*!re2c
      re2c:define:YYCTYPE = "unsigned char";
      re2c:yyfill:enable = 0;
      re2c:flags:utf-8 = 0;

      digits = [0-9]+;
      exp = [eE] [+-]? digits;
      ident = [A-Za-z_][A-Za-z0-9_]*;

      "\x00" {
        NN_ADVANCE();
        if (start >= lx->end) { lx->cur = lx->end; return make(lx, 0, lx->end); }
        diag_error(d, (SrcLoc)(start - lx->src), "NUL byte in source");
        while (lx->cur < lx->end && *lx->cur == 0) lx->cur++;
        continue;
      }
      [ \t\f\v]+ { NN_ADVANCE(); continue; }
      "#" [^\n\x00]* { NN_ADVANCE(); continue; }
      "\r"? "\n" { NN_ADVANCE(); if (lx->depth > 0) continue; return make(lx, TK_SEP, start); }
      ";" { NN_ADVANCE(); return make(lx, TK_SEP, start); }
      "model" { NN_ADVANCE(); return make(lx, TK_MODEL, start); }
      "const" { NN_ADVANCE(); return make(lx, TK_CONST, start); }
      "input" { NN_ADVANCE(); return make(lx, TK_INPUT, start); }
      "label" { NN_ADVANCE(); return make(lx, TK_LABEL, start); }
      "target" { NN_ADVANCE(); return make(lx, TK_TARGET, start); }
      "block" { NN_ADVANCE(); return make(lx, TK_BLOCK, start); }
      "return" { NN_ADVANCE(); return make(lx, TK_RETURN, start); }
      "repeat" { NN_ADVANCE(); return make(lx, TK_REPEAT, start); }
      "loss" { NN_ADVANCE(); return make(lx, TK_LOSS, start); }
      "optimizer" { NN_ADVANCE(); return make(lx, TK_OPTIMIZER, start); }
      "output" { NN_ADVANCE(); return make(lx, TK_OUTPUT, start); }
      "class" { NN_ADVANCE(); return make(lx, TK_CLASS, start); }
      "true" { NN_ADVANCE(); return make(lx, TK_TRUE, start); }
      "false" { NN_ADVANCE(); return make(lx, TK_FALSE, start); }
      ident { NN_ADVANCE(); return make(lx, TK_IDENT, start); }
      digits { NN_ADVANCE(); return make(lx, TK_INT, start); }
      digits "." digits exp? | digits exp { NN_ADVANCE(); return make(lx, TK_REAL, start); }
      [0-9] [0-9A-Za-z_.]* {
        NN_ADVANCE();
        diag_error(d, (SrcLoc)(start - lx->src), "malformed number '%.*s'",
                   (int)(lx->cur - start) > 40 ? 40 : (int)(lx->cur - start), start);
        continue;
      }
      "(" { NN_ADVANCE(); lx->depth++; return make(lx, TK_LPAREN, start); }
      ")" { NN_ADVANCE(); if (lx->depth > 0) lx->depth--; return make(lx, TK_RPAREN, start); }
      "[" { NN_ADVANCE(); lx->depth++; return make(lx, TK_LBRACKET, start); }
      "]" { NN_ADVANCE(); if (lx->depth > 0) lx->depth--; return make(lx, TK_RBRACKET, start); }
      "{" { NN_ADVANCE(); lx->depth = 0; return make(lx, TK_LBRACE, start); }
      "}" { NN_ADVANCE(); lx->depth = 0; return make(lx, TK_RBRACE, start); }
      "," { NN_ADVANCE(); return make(lx, TK_COMMA, start); }
      "=" { NN_ADVANCE(); return make(lx, TK_ASSIGN, start); }
      ":" { NN_ADVANCE(); return make(lx, TK_COLON, start); }
      "+" { NN_ADVANCE(); return make(lx, TK_PLUS, start); }
      "-" { NN_ADVANCE(); return make(lx, TK_MINUS, start); }
      "*" { NN_ADVANCE(); return make(lx, TK_STAR, start); }
      "/" { NN_ADVANCE(); return make(lx, TK_SLASH, start); }
      [\x80-\xff]+ {
        NN_ADVANCE();
        diag_error(d, (SrcLoc)(start - lx->src), "unexpected non-ASCII character");
        continue;
      }
      [^] {
        NN_ADVANCE();
        unsigned char ch = (unsigned char)*start;
        if (ch >= 32 && ch < 127)
          diag_error(d, (SrcLoc)(start - lx->src), "unexpected character '%c'", ch);
        else
          diag_error(d, (SrcLoc)(start - lx->src), "unexpected control character 0x%02x", ch);
        continue;
      }
    */
#undef NN_ADVANCE
    (void)YYMARKER;
  }
}

/* Adds the synthetic SEP before '}' and at the end, and folds runs of SEP into one. */
Token lex_next(Lexer *lx, Diag *d) {
  for (;;) {
    if (lx->pending_close) {
      lx->pending_close = false;
      lx->need_sep = true;
      const char *start = lx->cur - 1;
      return make(lx, TK_RBRACE, start);
    }
    if (lx->at_end) return make(lx, 0, lx->end);
    Token t = lex_raw(lx, d);
    if (t.kind == TK_SEP) {
      if (!lx->need_sep) continue;
      lx->need_sep = false;
      return t;
    }
    if (t.kind == TK_RBRACE && lx->need_sep) {
      lx->pending_close = true;
      lx->need_sep = false;
      Token sep = t;
      sep.kind = TK_SEP;
      sep.len = 0;
      return sep;
    }
    if (t.kind == 0) {
      lx->at_end = true;
      if (lx->need_sep) {
        lx->need_sep = false;
        t.kind = TK_SEP;
        return t;
      }
      return t;
    }
    lx->need_sep = opens_nothing(t.kind);
    return t;
  }
}
