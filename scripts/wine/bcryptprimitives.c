/*
 * A stand-in for Windows' bcryptprimitives.dll under Wine 8 (Debian 12), which lacks it.
 * Rust's standard library (1.78+) draws its randomness from bcryptprimitives!ProcessPrng; this
 * DLL exports that one function and forwards it to advapi32!SystemFunction036 (RtlGenRandom),
 * which Wine has. scripts/wine-env builds it with mingw-w64 and copies it into the Wine prefix's
 * system32. Never shipped: it exists only so Windows test binaries can run under old Wine.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
