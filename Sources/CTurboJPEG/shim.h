// Umbrella header for libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev,
// pkg-config `libturbojpeg`): JPEG images.
//
// TurboJPEG reports every error by return code, which Swift can check; the
// classic libjpeg API reports them by longjmp, which Swift cannot catch. Only
// NNBatchData/Sources/Images/JPEGDecoder.swift imports this header.
#ifndef NNB_TURBOJPEG_SHIM_H
#define NNB_TURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
