#ifndef AFFONSO_RELAY_CRDKAFKA_SHIM_H
#define AFFONSO_RELAY_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
