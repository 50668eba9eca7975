/* goc.h — everything goc offers, one include. */
#ifndef GOC_H
#define GOC_H
#include "goc/errors.h"
#include "goc/rt.h"
#if defined(__has_include)
#if __has_include("goc/chan.h")
#include "goc/chan.h"
#endif
#if __has_include("goc/sync.h")
#include "goc/sync.h"
#endif
#if __has_include("goc/context.h")
#include "goc/context.h"
#endif
#if __has_include("goc/net.h")
#include "goc/net.h"
#endif
#endif
#endif
