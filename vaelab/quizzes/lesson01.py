"""Quiz for lesson 01: the autoencoder."""

QUESTIONS = [
    {
        "id": "01.codes_are_points",
        "text": (
            "For one input image, what does the encoder of a plain autoencoder "
            "(vaelab.models.MLPAutoencoder) return?"
        ),
        "options": [
            "A probability for each of the 784 pixels",
            "The digit's class label",
            "A single point z: latent_dim numbers",
            "A mean and a log-variance describing a Gaussian over codes",
        ],
        "correct": 2,
        "explanations": [
            "That is the decoder's job: it turns a code into x_logits, whose sigmoid is a "
            "probability per pixel. The encoder goes the other way, from pixels to a code.",
            "The autoencoder never sees labels; it is trained only to reconstruct. Codes of "
            "the same digit often end up close together, but only the coloured scatter, drawn "
            "afterwards with the labels, shows that.",
            "Right: an autoencoder maps each image to one code, deterministically. Encoding "
            "the same image twice gives the same z, and nothing says how far around z the "
            "decoder still works.",
            "That is the VAE's encoder (lesson 02). The plain autoencoder has a single to_z "
            "layer and no notion of uncertainty.",
        ],
    },
    {
        "id": "01.latent_holes",
        "text": (
            "You decode points all over the rectangle that holds a 2-D autoencoder's codes, far "
            "from any code too. Lesson 01 finds that its classifier reads most of these decodes "
            "as digits, in the holes as well. Why is decoding random points still not a way to "
            "generate MNIST?"
        ),
        "options": [
            "The decoder only works for codes that come from the current batch",
            "Two latent dimensions cannot represent digits",
            "Points far from every code always decode to noise, so most samples are wasted",
            "Nothing in training says what the holes should hold or where codes should be "
            "drawn: the decoder extrapolates there, and which digit comes out depends on where "
            "a code lands",
        ],
        "correct": 3,
        "explanations": [
            "Once trained, the decoder is a fixed function of z that knows nothing about "
            "batches. It accepts any code; it just was never trained on codes like this one.",
            "Reconstructions from 2-D codes are blurry but recognisable, so two dimensions "
            "can hold digits. The trouble is the space between the codes, and with more "
            "dimensions there is even more empty space.",
            "Lesson 01 measures the opposite for its autoencoder: in the holes the decoder "
            "draws bold digits and blends, and the classifier reads most of them. They are "
            "extrapolations nobody asked for, not noise, and nothing guarantees them.",
            "Right: the reconstruction loss only scores the decoder at the encoded training "
            "images. Elsewhere it extrapolates (into bold digits and blends here), and there is "
            "no known distribution over codes to sample from: drawing from N(0, I) reaches only "
            "part of the code cloud, so some digits come out far too often and others rarely. "
            "The VAE trains the decoder on whole neighbourhoods and pulls the codes towards a "
            "known prior.",
        ],
        "claims": ["01.holes_still_digits", "01.prior_uneven"],
    },
    {
        "id": "01.recon_loss",
        "text": (
            "Your untrained autoencoder's reconstruction loss prints 0.69 per image, where "
            "lesson 01's prints about 543 (784 log 2). The model and the images are fine. What "
            "is the likeliest cause?"
        ),
        "options": [
            "The sigmoid is applied twice",
            "The binary cross-entropy is averaged over the pixels of each image instead of "
            "added up",
            "The images were not divided by 255",
            "The loss is averaged over the batch instead of added up",
        ],
        "correct": 1,
        "explanations": [
            "An untrained decoder's logits are near 0. Applied twice, the sigmoid turns them "
            "into 0.5, read as a logit: the loss then predicts about 0.62 for every pixel and "
            "pays more than log 2 for each paper pixel. The total per image is still hundreds "
            "of nats, not below one.",
            "Right: an untrained decoder predicts about 0.5 for every pixel and pays about "
            "log 2 = 0.69 nats per pixel, 784 log 2 for the image. Averaging over the 784 pixels "
            "reports one pixel's share. The negative log-likelihood of an image is the sum over "
            "its pixels; lesson 04 shows what the average does to a VAE.",
            "vaelab's models refuse such images, with the hint to divide by 255; and targets up "
            "to 255 would make the cross-entropy far larger, not smaller.",
            "Averaging over the batch is what lesson 01 does too: it gives nats per image. "
            "Adding up a batch of 128 images would print a number 128 times larger.",
        ],
        "claims": ["01.untrained_coin_toss"],
    },
]
